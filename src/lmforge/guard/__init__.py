"""Guardrails: prompt-injection and jailbreak detection, PII, output checks, least privilege.

Entry point for other stages: `lmforge.guard.guard.Guard` (scan_input / scan_output /
scan_chunks). Kept import-free so that importing a submodule stays cheap.
"""
