"""The quality filters a translation passes before it joins the corpus: the chain and the checks it runs."""
