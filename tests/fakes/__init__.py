"""Protocol-faithful emulators of local LLM servers (Ollama, LM Studio / OpenAI-compatible).

They are real aiohttp servers on loopback, so the gateway is tested through its real HTTP
clients; `vectors` holds the recorded payloads their replies are checked against.
"""
