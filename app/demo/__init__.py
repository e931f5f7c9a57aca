"""The demo shop: a UK gift shop derived from the UCI Online Retail data set."""
