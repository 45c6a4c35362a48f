"""`contextkit demo`: a small coding agent, with real tools in a temporary project, run through
litellm and a contextkit Session (default policy, tracing on). The model is scripted (a custom
litellm provider, no API key, no network) unless `--model` names a real one.

    contextkit demo                       # the scripted model
    contextkit demo --model openai/gpt-4.1-mini --view
    contextkit demo --faults              # failing tools, a poisoned page, a small budget: every guard fires
"""
