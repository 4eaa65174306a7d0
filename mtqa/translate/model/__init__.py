"""The model side of translation: tokenise, translate (CTranslate2, locally or on Ray) and convert models."""
