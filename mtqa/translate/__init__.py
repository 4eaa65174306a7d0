"""Stage `mtqa translate`: load -> segment -> translate (NLLB-200 via CTranslate2) -> filter/align -> parallel corpus."""
