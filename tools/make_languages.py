"""Generate ``languages.json``: one entry per NLLB-200 (FLORES-200) language.

Each entry looks like::

    {"flores": "deu_Latn", "iso639_3": "deu", "iso639_1": "de",
     "name": "German", "script": "Latn", "langdetect": "de"}

Sources:
  * FLORES-200 codes and their order: ``FAIRSEQ_LANGUAGE_CODES`` from transformers.
  * Names and ISO 639-1 codes: pycountry's ISO 639-3 table.
  * langdetect codes: the profile files shipped with the installed langdetect.

pycountry alone cannot decide every ISO 639-1 code, because NLLB often uses an
individual language (``arb``) where ISO 639-1 only codes the macrolanguage
(``ar`` = ``ara``), and some languages appear in several scripts. Those choices
are spelled out in ``ISO639_1_DEFAULTS`` below.

Usage:  python make_languages.py [OUTPUT_PATH]   (default: languages.json next to this file)
The output is deterministic; re-running overwrites it with identical content.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import langdetect
import pycountry
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

# ISO 639-1 code -> the one FLORES code it resolves to, where pycountry cannot
# tell on its own. Everything else takes pycountry's alpha_2 for the code's
# ISO 639-3 part (or null when there is none).
ISO639_1_DEFAULTS: dict[str, str] = {
    # ISO 639-1 code belongs to a macrolanguage; NLLB has an individual member.
    "ar": "arb_Arab",  # Arabic -> Modern Standard Arabic (the 8 dialect codes: null)
    "ay": "ayr_Latn",  # Aymara -> Central Aymara
    "az": "azj_Latn",  # Azerbaijani -> North Azerbaijani (azb_Arab, South Azerbaijani: null)
    "fa": "pes_Arab",  # Persian -> Iranian Persian (prs_Arab, Dari: null)
    "ff": "fuv_Latn",  # Fulah -> Nigerian Fulfulde
    "ku": "kmr_Latn",  # Kurdish -> Northern Kurdish (ckb_Arab, Central Kurdish: null)
    "kr": "knc_Latn",  # Kanuri -> Central Kanuri, Latin script (knc_Arab: null)
    "lv": "lvs_Latn",  # Latvian -> Standard Latvian (ltg_Latn, Latgalian: null)
    "mg": "plt_Latn",  # Malagasy -> Plateau Malagasy
    "mn": "khk_Cyrl",  # Mongolian -> Halh Mongolian
    "ms": "zsm_Latn",  # Malay -> Standard Malay (ind_Latn keeps its own "id")
    "ne": "npi_Deva",  # Nepali -> Nepali (individual language)
    "om": "gaz_Latn",  # Oromo -> West Central Oromo
    "or": "ory_Orya",  # Oriya -> Odia (individual language)
    "ps": "pbt_Arab",  # Pashto -> Southern Pashto
    "qu": "quy_Latn",  # Quechua -> Ayacucho Quechua
    "sq": "als_Latn",  # Albanian -> Tosk Albanian (basis of standard Albanian)
    "sw": "swh_Latn",  # Swahili -> Swahili (individual language)
    "uz": "uzn_Latn",  # Uzbek -> Northern Uzbek
    "yi": "ydd_Hebr",  # Yiddish -> Eastern Yiddish
    # One ISO 639-3 code in several scripts: only one script gets the code.
    "ks": "kas_Arab",  # Kashmiri: Perso-Arabic is the official script (kas_Deva: null)
    "zh": "zho_Hans",  # Chinese: Simplified (zho_Hant: null; yue_Hant is Cantonese: null)
    # Norwegian: nob_Latn keeps "nb" and nno_Latn keeps "nn" (from pycountry).
    # "no" (macrolanguage) is deliberately NOT assigned: an entry holds one code,
    # and "nb" is the precise one. langdetect's "no" maps to nob_Latn instead.
}

# langdetect codes that are not simply the entry's ISO 639-1 code.
LANGDETECT_OVERRIDES: dict[str, str] = {
    "zho_Hans": "zh-cn",
    "zho_Hant": "zh-tw",
    "nob_Latn": "no",  # langdetect's "no" profile is Norwegian Wikipedia (Bokmål)
}

# Names for codes missing from pycountry, or whose ISO name carries a
# disambiguation note that is unhelpful here.
NAME_OVERRIDES: dict[str, str] = {
    "ajp": "South Levantine Arabic",  # retired from ISO 639-3 in 2023 (merged into apc)
    "ell": "Greek",  # ISO: "Modern Greek (1453-)"
    "npi": "Nepali",  # ISO: "Nepali (individual language)"
    "oci": "Occitan",  # ISO: "Occitan (post 1500)"
    "swh": "Swahili",  # ISO: "Swahili (individual language)"
}

DEFAULT_OUTPUT = Path(__file__).resolve().with_name("languages.json")


def langdetect_profiles() -> set[str]:
    """Return the language codes langdetect can output (its profile file names)."""
    profile_dir = Path(langdetect.__file__).parent / "profiles"
    return {path.name for path in profile_dir.iterdir() if path.is_file()}


def iso639_1_for(flores: str, alpha_2: str | None) -> str | None:
    """Pick the ISO 639-1 code for a FLORES code, honouring ISO639_1_DEFAULTS."""
    for code, default_flores in ISO639_1_DEFAULTS.items():
        if default_flores == flores:
            return code
    if alpha_2 is not None and alpha_2 in ISO639_1_DEFAULTS:
        return None  # another FLORES code is the default for this ISO 639-1 code
    return alpha_2


def make_entry(flores: str, profiles: set[str]) -> dict[str, str | None]:
    """Build the JSON entry for one FLORES-200 code such as ``deu_Latn``."""
    iso639_3, script = flores.split("_")
    language = pycountry.languages.get(alpha_3=iso639_3)
    alpha_2 = getattr(language, "alpha_2", None)
    pycountry_name = getattr(language, "name", None)

    iso639_1 = iso639_1_for(flores, alpha_2)
    detect_code = LANGDETECT_OVERRIDES.get(flores)
    if detect_code is None and iso639_1 in profiles:
        detect_code = iso639_1

    return {
        "flores": flores,
        "iso639_3": iso639_3,
        "iso639_1": iso639_1,
        "name": NAME_OVERRIDES.get(iso639_3, pycountry_name),
        "script": script,
        "langdetect": detect_code,
    }


def check(entries: list[dict[str, str | None]], profiles: set[str]) -> None:
    """Fail on inconsistent data; print languages without a name and unused profiles."""
    flores_codes = {entry["flores"] for entry in entries}
    for code, flores in ISO639_1_DEFAULTS.items():
        if flores not in flores_codes:
            raise ValueError(f"ISO639_1_DEFAULTS[{code!r}] = {flores!r} is not an NLLB code")
        if pycountry.languages.get(alpha_2=code) is None:
            raise ValueError(f"{code!r} is not an ISO 639-1 code known to pycountry")

    for field in ("iso639_1", "langdetect"):
        counts = Counter(entry[field] for entry in entries if entry[field] is not None)
        duplicates = sorted(code for code, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"{field} codes used by more than one language: {duplicates}")

    for entry in entries:
        if entry["langdetect"] is not None and entry["langdetect"] not in profiles:
            raise ValueError(f"{entry['flores']}: no langdetect profile {entry['langdetect']!r}")
        if not entry["name"]:
            print(f"warning: no name for {entry['flores']}")

    used = {entry["langdetect"] for entry in entries}
    unused = sorted(profiles - used)
    if unused:
        print(f"langdetect profiles not mapped to any NLLB language: {unused}")


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    profiles = langdetect_profiles()
    entries = [make_entry(flores, profiles) for flores in FAIRSEQ_LANGUAGE_CODES]
    check(entries, profiles)

    text = json.dumps({"languages": entries}, ensure_ascii=False, indent=2)
    output.write_text(text + "\n", encoding="utf-8")
    with_iso = sum(entry["iso639_1"] is not None for entry in entries)
    with_detect = sum(entry["langdetect"] is not None for entry in entries)
    print(f"wrote {output}: {len(entries)} languages, {with_iso} with iso639_1, {with_detect} with langdetect")


if __name__ == "__main__":
    main()
