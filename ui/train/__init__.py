"""The Train page's form and the lecture's listing beside print(model)."""
