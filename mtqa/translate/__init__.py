"""Stage `mtqa translate`: load -> segment -> translate (NLLB-200 via CTranslate2) -> filter/align -> parallel corpus."""

from ..callable_stage import make_callable

make_callable(__name__, "translate")  # mtqa.translate(config) is the API's function (mtqa/api.py)
