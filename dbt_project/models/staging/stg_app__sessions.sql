select
    session_id,
    account_id,
    started_at,
    ended_at,
    audio_minutes,
    audio_file_size_mb,
    transcription_status
from {{ source('app', 'sessions') }}
