"""LLM providers behind one small protocol, and the chain that retries and fails over."""
