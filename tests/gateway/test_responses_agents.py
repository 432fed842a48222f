"""The OpenAI Agents SDK, whose default model speaks the Responses API, runs an agent with
a function tool through the gateway: the model calls the tool, the SDK runs it and sends its
output back, the model answers (issue 11)."""

from __future__ import annotations

from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI

from tests.fakes.ollama_server import OllamaEmulator
from tests.gateway.test_responses import QUESTION, REPLY, emu, gateway  # noqa: F401 (fixtures)

CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    CALLS.append(city)
    return f"Sunny, 22 C in {city}"


async def test_an_agent_calls_its_tool_and_answers(
    gateway: TestServer,
    emu: OllamaEmulator,
) -> None:
    CALLS.clear()
    async with AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="unused") as client:
        agent = Agent(
            name="weather",
            instructions="Answer weather questions with the tool.",
            tools=[get_weather],
            model=OpenAIResponsesModel(model="auto", openai_client=client),
        )
        result = await Runner.run(agent, QUESTION, run_config=RunConfig(tracing_disabled=True))
    assert CALLS == ["Tokyo"]
    assert result.final_output == REPLY
    messages = emu.chats()[-1]["messages"]
    assert messages[0] == {"role": "system", "content": "Answer weather questions with the tool."}
    assert messages[-1] == {
        "role": "tool",
        "content": "Sunny, 22 C in Tokyo",
        "tool_name": "get_weather",
    }
