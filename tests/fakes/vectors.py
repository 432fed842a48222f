"""Recorded payloads from protocols.md section 7, copied exactly (the emulators' yardstick)."""

from typing import Any

# TV-O1 request: O-api "Chat request (Streaming)".
TV_O1_REQUEST: dict[str, Any] = {
    "model": "llama3.2",
    "messages": [{"role": "user", "content": "why is the sky blue?"}],
}

# TV-O1 streamed chunk: O-api "Chat request (Streaming)".
TV_O1_CHUNK: dict[str, Any] = {
    "model": "llama3.2",
    "created_at": "2023-08-04T08:52:19.385406455-07:00",
    "message": {"role": "assistant", "content": "The", "images": None},
    "done": False,
}

# TV-O1 final chunk: O-api "Chat request (Streaming)".
TV_O1_FINAL: dict[str, Any] = {
    "model": "llama3.2",
    "created_at": "2023-08-04T19:22:45.499127Z",
    "message": {"role": "assistant", "content": ""},
    "done": True,
    "total_duration": 4883583458,
    "load_duration": 1334875,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 342546000,
    "eval_count": 282,
    "eval_duration": 4535599000,
}

# TV-O2 response: O-api "Chat request (with images)" (request image elided).
TV_O2_RESPONSE: dict[str, Any] = {
    "model": "llava",
    "created_at": "2023-12-13T22:42:50.203334Z",
    "message": {
        "role": "assistant",
        "content": " The image features a cute, little pig with an angry facial "
        "expression. It's wearing a heart on its shirt and is waving in the "
        "air. This scene appears to be part of a drawing or sketching project.",
        "images": None,
    },
    "done": True,
    "total_duration": 1668506709,
    "load_duration": 1986209,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 359682000,
    "eval_count": 83,
    "eval_duration": 1303285000,
}

# TV-O3 tool-call chunk: O-api streaming with tools.
TV_O3_CHUNK: dict[str, Any] = {
    "model": "llama3.2",
    "created_at": "2025-07-07T20:22:19.184789Z",
    "message": {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
    },
    "done": False,
}

# TV-O3 final chunk: O-api streaming with tools.
TV_O3_FINAL: dict[str, Any] = {
    "model": "llama3.2",
    "created_at": "2025-07-07T20:22:19.19314Z",
    "message": {"role": "assistant", "content": ""},
    "done_reason": "stop",
    "done": True,
    "total_duration": 182242375,
    "load_duration": 41295167,
    "prompt_eval_count": 169,
    "prompt_eval_duration": 24573166,
    "eval_count": 15,
    "eval_duration": 115959084,
}

# TV-O4 Gemma 4 non-streaming reply: O-oas /api/chat example.
TV_O4: dict[str, Any] = {
    "model": "gemma4",
    "created_at": "2025-10-17T23:14:07.414671Z",
    "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
    "done": True,
    "done_reason": "stop",
    "total_duration": 174560334,
    "load_duration": 101397084,
    "prompt_eval_count": 11,
    "prompt_eval_duration": 13074791,
    "eval_count": 18,
    "eval_duration": 52479709,
}

# TV-O5 chunk before the error: docs/api/errors.mdx (an /api/generate chunk).
TV_O5_CHUNK: dict[str, Any] = {
    "model": "gemma4",
    "created_at": "2025-10-26T17:21:21.231094Z",
    "response": "can",
    "done": False,
}

# TV-O5 error line in a 200 stream: docs/api/errors.mdx.
TV_O5_ERROR: dict[str, Any] = {"error": "an error was encountered while running the model"}

# Load reply to an empty `messages` list: O-api "Load a model".
TV_O_LOAD: dict[str, Any] = {
    "model": "llama3.2",
    "created_at": "2024-09-12T21:17:29.110811Z",
    "message": {"role": "assistant", "content": ""},
    "done_reason": "load",
    "done": True,
}

# TV-T1 /api/tags: O-api.
TV_T1: dict[str, Any] = {
    "models": [
        {
            "name": "deepseek-r1:latest",
            "model": "deepseek-r1:latest",
            "modified_at": "2025-05-10T08:06:48.639712648-07:00",
            "size": 4683075271,
            "digest": "0a8c266910232fd3291e71e5ba1e058cc5af9d411192cf88b6d30e92b6e73163",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen2",
                "families": ["qwen2"],
                "parameter_size": "7.6B",
                "quantization_level": "Q4_K_M",
            },
        },
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        },
    ]
}

# TV-T2 /api/tags for gemma4: O-oas.
TV_T2: dict[str, Any] = {
    "models": [
        {
            "name": "gemma4",
            "model": "gemma4",
            "modified_at": "2025-10-03T23:34:03.409490317-07:00",
            "size": 9608350245,
            "digest": "c6eb396dbd5992bbe3f5cdb947e8bbc0ee413d7c17e2beaae69f5d569cf982eb",
            "details": {
                "format": "gguf",
                "family": "gemma4",
                "families": ["gemma4"],
                "parameter_size": "8.0B",
                "quantization_level": "Q4_K_M",
            },
        }
    ]
}

# TV-S1 /api/show for gemma4 (model_info subset): O-oas.
TV_S1: dict[str, Any] = {
    "parameters": "temperature 0.7\nnum_ctx 2048",
    "license": "Gemma Terms of Use \n\nLast modified: February 21, 2024...",
    "capabilities": ["completion", "vision"],
    "modified_at": "2025-08-14T15:49:43.634137516-07:00",
    "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "gemma4",
        "families": ["gemma4"],
        "parameter_size": "8.0B",
        "quantization_level": "Q4_K_M",
    },
    "model_info": {
        "gemma4.attention.head_count": 8,
        "gemma4.attention.head_count_kv": 2,
        "gemma4.attention.sliding_window": 512,
        "gemma4.audio.block_count": 12,
        "gemma4.audio.embedding_length": 1024,
        "gemma4.block_count": 42,
        "gemma4.context_length": 131072,
        "gemma4.embedding_length": 2560,
        "gemma4.vision.block_count": 16,
        "gemma4.vision.patch_size": 16,
        "gemma4.vision.projector.scale_factor": 3,
        "general.architecture": "gemma4",
        "general.file_type": 15,
        "tokenizer.ggml.eos_token_ids": [1, 106, 50],
        "tokenizer.ggml.pre": "gemma4",
    },
}

# TV-P1 /api/ps: O-oas.
TV_P1: dict[str, Any] = {
    "models": [
        {
            "name": "gemma4",
            "model": "gemma4",
            "size": 6591830464,
            "digest": "c6eb396dbd5992bbe3f5cdb947e8bbc0ee413d7c17e2beaae69f5d569cf982eb",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "gemma4",
                "families": ["gemma4"],
                "parameter_size": "8.0B",
                "quantization_level": "Q4_K_M",
            },
            "expires_at": "2025-10-17T16:47:07.93355-07:00",
            "size_vram": 5333539264,
            "context_length": 4096,
        }
    ]
}

# TV-L1 first /api/v0/models entry: L-v0 endpoints.mdx.
TV_L1_ENTRY: dict[str, Any] = {
    "id": "qwen2-vl-7b-instruct",
    "object": "model",
    "type": "vlm",
    "publisher": "mlx-community",
    "arch": "qwen2_vl",
    "compatibility_type": "mlx",
    "quantization": "4bit",
    "state": "not-loaded",
    "max_context_length": 32768,
}

# TV-L1 /api/v0/models envelope: L-v0 (entries after the first elided).
TV_L1: dict[str, Any] = {"object": "list", "data": [TV_L1_ENTRY]}

# TV-L2 recorded /api/v0/models entry, loaded Gemma: zed PR #25606.
TV_L2_ENTRY: dict[str, Any] = {
    "id": "gemma-3-4b-it",
    "object": "model",
    "type": "vlm",
    "publisher": "lmstudio-community",
    "arch": "gemma3",
    "compatibility_type": "gguf",
    "quantization": "Q4_K_M",
    "state": "loaded",
    "max_context_length": 131072,
    "loaded_context_length": 4096,
}

# TV-L3 /api/v1/models Gemma 4 entry: L-v1 list.md.
TV_L3_ENTRY: dict[str, Any] = {
    "type": "llm",
    "publisher": "google",
    "key": "google/gemma-4-26b-a4b",
    "display_name": "Gemma 4 26B A4B",
    "architecture": "gemma4",
    "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
    "size_bytes": 17990911801,
    "params_string": "26B-A4B",
    "loaded_instances": [
        {
            "id": "google/gemma-4-26b-a4b",
            "config": {
                "context_length": 4096,
                "eval_batch_size": 512,
                "parallel": 4,
                "flash_attention": True,
                "num_experts": 8,
                "offload_kv_cache_to_gpu": True,
            },
        }
    ],
    "max_context_length": 262144,
    "format": "gguf",
    "capabilities": {
        "vision": True,
        "trained_for_tool_use": True,
        "reasoning": {"allowed_options": ["off", "on"], "default": "on"},
    },
    "description": None,
    "variants": ["google/gemma-4-26b-a4b@q4_k_m"],
    "selected_variant": "google/gemma-4-26b-a4b@q4_k_m",
}

# TV-L4 request: L-v0 /api/v0/chat/completions example.
TV_L4_REQUEST: dict[str, Any] = {
    "model": "granite-3.0-2b-instruct",
    "messages": [
        {"role": "system", "content": "Always answer in rhymes."},
        {"role": "user", "content": "Introduce yourself."},
    ],
    "temperature": 0.7,
    "max_tokens": -1,
    "stream": False,
}

# TV-L4 response (v0: adds stats/model_info/runtime to /v1's shape): L-v0.
TV_L4_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-i3gkjwthhw96whukek9tz",
    "object": "chat.completion",
    "created": 1731990317,
    "model": "granite-3.0-2b-instruct",
    "choices": [
        {
            "index": 0,
            "logprobs": None,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "content": "Greetings, I'm a helpful AI, here to assist,\n"
                "In providing answers, with no distress.\n"
                "I'll keep it short and sweet, in rhyme you'll find,\n"
                "A friendly companion, all day long you'll bind.",
            },
        }
    ],
    "usage": {"prompt_tokens": 24, "completion_tokens": 53, "total_tokens": 77},
    "stats": {
        "tokens_per_second": 51.43709529007664,
        "time_to_first_token": 0.111,
        "generation_time": 0.954,
        "stop_reason": "eosFound",
    },
    "model_info": {"arch": "granite", "quant": "Q4_K_M", "format": "gguf", "context_length": 4096},
    "runtime": {
        "name": "llama.cpp-mac-arm64-apple-metal-advsimd",
        "version": "1.3.0",
        "supported_formats": ["gguf"],
    },
}

# TV-L5 recorded /v1/models entry: runebookai/tome#109.
TV_L5_ENTRY: dict[str, Any] = {
    "id": "google/gemma-3-12b",
    "object": "model",
    "owned_by": "organization_owner",
}

# TV-L5 /v1/models envelope: tome#109 (entries after the first elided).
TV_L5: dict[str, Any] = {"data": [TV_L5_ENTRY], "object": "list"}

# TV-A1 stream chunks (role, content, finish): A-oas CreateChatCompletionStreamResponse.
TV_A1: list[dict[str, Any]] = [
    {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    },
    {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {"index": 0, "delta": {"content": "Hello"}, "logprobs": None, "finish_reason": None}
        ],
    },
    {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
    },
]

# TV-A2 usage chunk, from the cookbook's Python repr: How_to_stream_completions.
TV_A2_USAGE_CHUNK: dict[str, Any] = {
    "choices": [],
    "usage": {"completion_tokens": 1, "prompt_tokens": 19, "total_tokens": 20},
}

# llama.cpp error while loading: C-srv.
LLAMACPP_LOADING_ERROR: dict[str, Any] = {
    "error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}
}

# Ollama capability error: server/routes_generate_test.go.
OLLAMA_ERROR: dict[str, Any] = {"error": '"bert" does not support chat'}

# LM Studio bad image URL: SwarmUI-MagicPromptExtension#51.
LMSTUDIO_ERROR: dict[str, Any] = {"error": "'url' field must be a base64 encoded image."}

# LM Studio /api/v1/models embedding entry: L-v1 list.md example.
TV_L3_EMBEDDING_ENTRY: dict[str, Any] = {
    "type": "embedding",
    "publisher": "gaianet",
    "key": "text-embedding-nomic-embed-text-v1.5-embedding",
    "display_name": "Nomic Embed Text v1.5",
    "quantization": {"name": "F16", "bits_per_weight": 16},
    "size_bytes": 274290560,
    "params_string": None,
    "loaded_instances": [],
    "max_context_length": 2048,
    "format": "gguf",
}

# The llama-server payloads below are derived from code, not recordings (like TV-A3);
# values are examples. ggml-org/llama.cpp tools/server, functions named.

# llama-server GET /props: get_props (`params` is a subset of task_params::to_json).
LLAMACPP_PROPS: dict[str, Any] = {
    "default_generation_settings": {
        "params": {"n_predict": -1, "seed": 4294967295, "temperature": 0.8, "top_k": 40,
                   "top_p": 0.95, "min_p": 0.05},
        "n_ctx": 4096,
    },
    "total_slots": 1,
    "model_alias": "",
    "model_path": "/models/gemma-4-E4B-it-Q4_K_M.gguf",
    "modalities": {"vision": True, "audio": True},
    "endpoint_slots": True,
    "endpoint_props": False,
    "endpoint_metrics": False,
    "webui": True,
    "chat_template": "{{ bos_token }}...",
    "bos_token": "<bos>",
    "eos_token": "<eos>",
    "build_info": "b6709-5ea10e2",
}  # fmt: skip

# llama-server GET /v1/models data[] entry: get_models, server_context::model_meta.
LLAMACPP_V1_MODELS_ENTRY: dict[str, Any] = {
    "id": "/models/gemma-4-E4B-it-Q4_K_M.gguf",
    "object": "model",
    "created": 1757000000,
    "owned_by": "llamacpp",
    "meta": {"vocab_type": 1, "n_vocab": 262144, "n_ctx_train": 131072, "n_embd": 2560,
             "n_params": 7518365184, "size": 5138250752},
}  # fmt: skip

# llama-server image part without a projector: server-common.cpp oaicompat_chat_params_parse
# throws std::runtime_error, server.cpp ex_wrapper answers it with format_error_response.
LLAMACPP_NO_IMAGE_ERROR: dict[str, Any] = {
    "error": {
        "code": 500,
        "message": "image input is not supported - hint: if this is unexpected, you may "
        "need to provide the mmproj",
        "type": "server_error",
    }
}

# llama-server input_audio part without an audio projector: as above.
LLAMACPP_NO_AUDIO_ERROR: dict[str, Any] = {
    "error": {
        "code": 500,
        "message": "audio input is not supported - hint: if this is unexpected, you may "
        "need to provide the mmproj",
        "type": "server_error",
    }
}

# llama-server prompt over the slot window: server-context.cpp send_error with
# ERROR_TYPE_EXCEED_CONTEXT_SIZE, server-task.cpp server_task_result_error::to_json.
LLAMACPP_CONTEXT_ERROR: dict[str, Any] = {
    "error": {
        "code": 400,
        "message": "request (5000 tokens) exceeds the available context size (4096 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    }
}
