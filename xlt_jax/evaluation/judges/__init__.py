"""LLM judges of the studies (P0-P3), each with its paper's prompt and a prompt version,
asked through `xlt_jax.services`: prompts, parsing, protocols (configuration), asking
(re-asks), language_rule (the switch-aware check), pointwise, pairwise, human_ratings
(P1's annotation round trip and agreement) and run (`judge_predictions`)."""
