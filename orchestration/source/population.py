"""Who signs up: account attributes, fake personal data and each account's behavioural traits.

Traits (activity level, API use, session length...) are drawn once at signup and stay with the
account, so differences between accounts are stable over time the way real customers are:
a few heavy accounts produce most of the usage (lognormal levels), teams work on weekdays,
individuals also at weekends.
"""

from __future__ import annotations

import unicodedata

import numpy as np

USER_TYPES = ("individual", "team", "enterprise", "education")
USER_TYPE_P = (0.55, 0.28, 0.05, 0.12)
CHANNELS = ("organic", "paid_search", "referral", "social", "partner", "direct")
CHANNEL_P = (0.30, 0.22, 0.15, 0.12, 0.08, 0.13)

# country: (weight, [(IANA timezone, weight), ...])
COUNTRIES: dict[str, tuple[float, list[tuple[str, float]]]] = {
    "US": (0.30, [("America/New_York", 0.45), ("America/Chicago", 0.25), ("America/Denver", 0.08),
                  ("America/Los_Angeles", 0.22)]),
    "GB": (0.08, [("Europe/London", 1.0)]),
    "DE": (0.08, [("Europe/Berlin", 1.0)]),
    "IN": (0.06, [("Asia/Kolkata", 1.0)]),
    "FR": (0.05, [("Europe/Paris", 1.0)]),
    "CA": (0.05, [("America/Toronto", 0.7), ("America/Vancouver", 0.3)]),
    "AU": (0.04, [("Australia/Sydney", 0.75), ("Australia/Perth", 0.25)]),
    "BR": (0.04, [("America/Sao_Paulo", 1.0)]),
    "ES": (0.03, [("Europe/Madrid", 1.0)]),
    "NL": (0.03, [("Europe/Amsterdam", 1.0)]),
    "JP": (0.03, [("Asia/Tokyo", 1.0)]),
    "SE": (0.02, [("Europe/Stockholm", 1.0)]),
    "PL": (0.02, [("Europe/Warsaw", 1.0)]),
    "IT": (0.02, [("Europe/Rome", 1.0)]),
    "SG": (0.02, [("Asia/Singapore", 1.0)]),
    "MX": (0.02, [("America/Mexico_City", 1.0)]),
    "CH": (0.02, [("Europe/Zurich", 1.0)]),
    "IE": (0.02, [("Europe/Dublin", 1.0)]),
    "KR": (0.01, [("Asia/Seoul", 1.0)]),
    "ZA": (0.01, [("Africa/Johannesburg", 1.0)]),
    "NG": (0.01, [("Africa/Lagos", 1.0)]),
    "NZ": (0.01, [("Pacific/Auckland", 1.0)]),
    "AR": (0.01, [("America/Argentina/Buenos_Aires", 1.0)]),
    "AE": (0.01, [("Asia/Dubai", 1.0)]),
    "IL": (0.01, [("Asia/Jerusalem", 1.0)]),
}
COUNTRY_CODES = tuple(COUNTRIES)
TIMEZONES = tuple(sorted({tz for _, zones in COUNTRIES.values() for tz, _ in zones}))
_COUNTRY_P = np.array([w for w, _ in COUNTRIES.values()]) / sum(w for w, _ in COUNTRIES.values())

FIRST_NAMES = (
    "James", "Mary", "Olivia", "Liam", "Sophia", "Noah", "Emma", "Lucas", "Mia", "Ethan", "Zoë",
    "José", "François", "Søren", "Łukasz", "Aoife", "Siobhán", "Björn", "Chloé", "Mateo",
    "Valentina", "Priya", "Arjun", "Ananya", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon", "Wei",
    "Mei", "Oluwaseun", "Chidi", "Thandiwe", "Ahmed", "Fatima", "Noa", "Yosef", "Ingrid",
    "Matthias", "Anna", "Giulia", "Luca", "Camila", "Diego", "Ava", "Grace", "Katarzyna", "Renée",
    "Jürgen", "Élodie", "Ísak", "Dana", "Omar", "Layla", "Tomás", "Ines", "Kwame", "Sakura",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Müller", "Schmidt", "O'Brien",
    "O'Connor", "Nguyễn", "Kowalski", "Nowak", "Dubois", "Lefèvre", "Rossi", "Bianchi", "Sato",
    "Tanaka", "Kim", "Park", "Patel", "Sharma", "Singh", "Okafor", "Adeyemi", "Dlamini", "Cohen",
    "Levi", "Silva", "Santos", "Fernández", "González", "Andersson", "Johansson", "Murphy",
    "Kelly", "van der Berg", "de Vries", "Jensen", "Nielsen", "Wang", "Chen", "Haddad",
    "Al-Farsi", "Björnsson", "Ó Súilleabháin", "Papadopoulos", "Yılmaz", "Novák", "Mensah",
)
_WORDS_A = (
    "Blue", "Nordlicht", "Acme", "Sakura", "Lumière", "Silver", "Quiet", "Bright", "Harbor",
    "Cedar", "Atlas", "Copper", "Polar", "Kestrel", "Meridian", "Zürich", "Fjord", "Saffron",
    "Orbit", "Granite", "Echo", "Tandem", "Velvet", "Juniper", "Crescent", "Maple", "Ñandú",
)
_WORDS_B = (
    "Audio", "Media", "Labs", "Analytics", "Studios", "Research", "Health", "Legal", "Podcasts",
    "Consulting", "Transcripts", "Voices", "Systems", "Partners", "Learning", "Insights",
    "Broadcasting", "Works", "Collective", "Clinic",
)
_SUFFIXES = ("", "", "", " Inc.", " Ltd", " GmbH", " SARL", " AG", " B.V.", " LLC", " Oy",
             " S.L.", " Pty Ltd", " & Co.", " 株式会社", " & Söhne KG")
_CITIES = ("Springfield", "Aarhus", "Kraków", "Zürich", "Málaga", "Dublin", "Porto", "Kyoto",
           "Bangalore", "Lagos", "Montréal", "São Paulo", "Göteborg", "Leuven", "Cluj-Napoca")
_MAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")

# Per user type: median weekday sessions, weekend factor, API adoption, API multiplier,
# share-link multiplier, daily seat-growth ceiling.
_TRAITS = {
    "individual": (0.9, 0.55, 0.08, 1.0, 1.0, 0.002),
    "team": (3.5, 0.25, 0.30, 1.5, 2.0, 0.008),
    "enterprise": (10.0, 0.20, 0.60, 3.0, 2.5, 0.010),
    "education": (2.0, 0.35, 0.12, 1.0, 1.5, 0.004),
}


def _ascii(text: str) -> str:
    """Fold a name to an email-safe ASCII slug (Zoë O'Brien -> zoeobrien)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _account_name(rng: np.random.Generator, user_type: str, first: str, last: str) -> str:
    if user_type == "individual":
        style = rng.integers(0, 4)
        return (f"{first}'s workspace", f"{first} {last}", f"{last} Podcast",
                f"The \"{rng.choice(_WORDS_A)}\" Show")[style]
    if user_type == "education":
        city = str(rng.choice(_CITIES))
        return (f"University of {city}", f"{city} Community College", f"École {city}",
                f"Universität {city}")[rng.integers(0, 4)]
    if rng.random() < 0.08:
        return f"{last} & {rng.choice(LAST_NAMES)}{rng.choice(_SUFFIXES)}"
    return f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}{rng.choice(_SUFFIXES)}"


def new_accounts(rng: np.random.Generator, signup_at: np.ndarray, first_id: int) -> dict:
    """Attributes, personal data and behavioural traits for accounts signing up at `signup_at`.

    Returns per-account arrays: the app.accounts columns plus the simulator-only traits.
    """
    n = len(signup_at)
    user_type = rng.choice(len(USER_TYPES), n, p=USER_TYPE_P)
    country = rng.choice(len(COUNTRY_CODES), n, p=_COUNTRY_P)
    tz = np.empty(n, np.int64)
    for c in np.unique(country):
        rows = np.flatnonzero(country == c)
        zones = COUNTRIES[COUNTRY_CODES[c]][1]
        picks = rng.choice(len(zones), len(rows), p=[w for _, w in zones])
        tz[rows] = [TIMEZONES.index(zones[k][0]) for k in picks]
    names, owners, emails = [], [], []
    for i in range(n):
        kind = USER_TYPES[user_type[i]]
        first, last = str(rng.choice(FIRST_NAMES)), str(rng.choice(LAST_NAMES))
        name = _account_name(rng, kind, first, last)
        if kind in ("team", "enterprise"):
            words = name.split(" ")
            domain = f"{_ascii(words[0]) or 'co'}{_ascii(words[-1])[:6]}.example"
        elif kind == "education":
            domain = f"{_ascii(name)[-12:]}.edu.example"
        else:
            domain = str(rng.choice(_MAIL_DOMAINS))
        local = (f"{_ascii(first)}.{_ascii(last)}", f"{_ascii(first)[:1]}{_ascii(last)}",
                 f"{_ascii(first)}{rng.integers(1, 99)}")[rng.integers(0, 3)]
        names.append(name)
        owners.append(f"{first} {last}")
        emails.append(f"{local}@{domain}")
    traits = np.array([_TRAITS[USER_TYPES[t]] for t in user_type]).reshape(n, 6)
    level = traits[:, 0] * rng.lognormal(0.0, 0.9, n)
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_P)
    api_user = rng.random(n) < traits[:, 2]
    return {
        "account_id": first_id + np.arange(n, dtype=np.int64),
        "account_name": np.array(names, dtype=object),
        "owner_name": np.array(owners, dtype=object),
        "owner_email": np.array(emails, dtype=object),
        "user_type": user_type.astype(np.int64),
        "country": country.astype(np.int64),
        "tz": tz,
        "channel": channel.astype(np.int64),
        "signup_at": signup_at.astype(np.int64),
        # traits
        "level": level,
        "weekend": traits[:, 1],
        "dur_median": rng.uniform(12.0, 45.0, n),
        "api_level": np.where(api_user, traits[:, 3] * rng.lognormal(np.log(20.0), 1.2, n), 0.0),
        "export_prop": rng.gamma(2.0, 0.2, n),
        "share_prop": traits[:, 4] * rng.gamma(2.0, 0.06, n),
        "trend": rng.uniform(0.0, 1.0, n) * traits[:, 5],
        "decline_days": rng.uniform(21.0, 42.0, n),
        # referral and partner customers convert better; heavier users too
        "convert_bias": np.isin(channel, [2, 4]) * 0.1 + rng.normal(0.0, 0.05, n),
    }
