"""Evaluation: model backends, YAML tasks, metrics with bootstrap CIs, a code sandbox, an LLM
judge, RAG metrics, reports and regression gates (`lmforge eval run|compare|report`)."""
