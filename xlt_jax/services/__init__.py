"""External model services: one client for OpenAI-compatible chat APIs (GPT-4o, vLLM, TGI,
Cohere's compatibility endpoint, our own server), with caching, retries, rate limits and
usage counts. Imports only `xlt_jax.core`; judges and translators build on it."""
