{{ config(materialized='table') }}
-- The name each account was given, for the reports addressed to that account's own owner.
-- Personal data: a name is often the owner's own ("Mia Novák", "Mia's workspace"), so it stays
-- in this private table (the intermediate schema is never granted to the BI role) and no mart
-- carries it (docs/bi.md).
select account_id, account_name
from {{ ref('stg_app__accounts') }}
