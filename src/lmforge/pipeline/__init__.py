"""`lmforge run` and `lmforge quickstart`: chain stages through run manifests."""
