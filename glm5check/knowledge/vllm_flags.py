"""The command-line flags `vllm serve` accepts at the pinned vllm (0.16.0rc2 era, commit 978a37c8).

Source: vllm's own argument definitions, read from the vllm-project/vllm sources of that era:
`vllm/entrypoints/openai/cli_args.py` (`make_arg_parser`: the positional model, `--headless`,
`--api-server-count`, `--config`, and one flag per `FrontendArgs` field), `vllm/engine/arg_utils.py`
(`EngineArgs.add_cli_args`: the ModelConfig, LoadConfig, AttentionConfig, StructuredOutputsConfig,
ParallelConfig, CacheConfig, MultiModalConfig, LoRAConfig, ObservabilityConfig, SchedulerConfig,
CompilationConfig and VllmConfig groups, with their short aliases) and `AsyncEngineArgs`
(`--enable-log-requests`). vLLM generates most flags from dataclass fields: a `bool` field becomes an
`argparse.BooleanOptionalAction`, so both `--name` and `--no-name` exist ("bool" below); plain
`store_true` flags have no `--no-` form ("switch"); "list" flags take one or more values (nargs="+");
"optional" flags take zero or one value. vLLM's FlexibleArgumentParser also accepts underscores for
dashes (`--max_model_len`) and `--<json-flag>.<key> VALUE` for the JSON-valued config flags.

When the pinned vllm moves, update this table from those two files (a flag missing here is reported
as unknown, with a did-you-mean, so a stale table shows up as a false FAIL on a real command).
"""

from __future__ import annotations

# kind: value | bool | switch | list | optional;  aliases follow the kind.
_TABLE = """
--headless switch
--api-server-count value -asc
--config value
--host value
--port value
--uds value
--uvicorn-log-level value
--disable-uvicorn-access-log bool
--allow-credentials bool
--allowed-origins value
--allowed-methods value
--allowed-headers value
--api-key list
--lora-modules list
--chat-template value
--chat-template-content-format value
--trust-request-chat-template bool
--response-role value
--ssl-keyfile value
--ssl-certfile value
--ssl-ca-certs value
--enable-ssl-refresh bool
--ssl-cert-reqs value
--root-path value
--middleware value
--return-tokens-as-token-ids bool
--disable-frontend-multiprocessing bool
--enable-request-id-headers bool
--enable-auto-tool-choice bool
--exclude-tools-when-tool-choice-none bool
--tool-call-parser value
--tool-parser-plugin value
--tool-server value
--log-config-file value
--max-log-len value
--disable-fastapi-docs bool
--enable-prompt-tokens-details bool
--enable-server-load-tracking bool
--enable-force-include-usage bool
--enable-tokenizer-info-endpoint bool
--enable-log-outputs bool
--h11-max-incomplete-event-size value
--h11-max-header-count value
--log-error-stack bool
--tokens-only bool
--enable-log-requests bool
--disable-log-requests bool
--model value
--runner value
--convert value
--tokenizer value
--tokenizer-mode value
--trust-remote-code bool
--dtype value
--seed value
--hf-config-path value
--allowed-local-media-path value
--allowed-media-domains list
--revision value
--code-revision value
--tokenizer-revision value
--max-model-len value
--quantization value -q
--allow-deprecated-quantization bool
--enforce-eager bool
--enable-return-routed-experts bool
--max-logprobs value
--logprobs-mode value
--disable-sliding-window bool
--disable-cascade-attn bool
--skip-tokenizer-init bool
--enable-prompt-embeds bool
--served-model-name list
--config-format value
--hf-token optional
--hf-overrides value
--pooler-config value
--logits-processor-pattern value
--generation-config value
--override-generation-config value
--enable-sleep-mode bool
--model-impl value
--override-attention-dtype value
--logits-processors list
--io-processor-plugin value
--load-format value
--download-dir value
--safetensors-load-strategy value
--model-loader-extra-config value
--ignore-patterns list
--use-tqdm-on-load bool
--pt-load-map-location value
--attention-backend value
--reasoning-parser value
--reasoning-parser-plugin value
--distributed-executor-backend value
--pipeline-parallel-size value -pp
--master-addr value
--master-port value
--nnodes value -n
--node-rank value -r
--tensor-parallel-size value -tp
--decode-context-parallel-size value -dcp
--dcp-kv-cache-interleave-size value
--cp-kv-cache-interleave-size value
--prefill-context-parallel-size value -pcp
--data-parallel-size value -dp
--data-parallel-rank value -dpn
--data-parallel-start-rank value -dpr
--data-parallel-size-local value -dpl
--data-parallel-address value -dpa
--data-parallel-rpc-port value -dpp
--data-parallel-backend value -dpb
--data-parallel-hybrid-lb bool -dph
--data-parallel-external-lb bool -dpe
--enable-expert-parallel bool -ep
--all2all-backend value
--enable-dbo bool
--ubatch-size value
--dbo-decode-token-threshold value
--dbo-prefill-token-threshold value
--disable-nccl-for-dp-synchronization bool
--enable-eplb bool
--eplb-config value
--expert-placement-strategy value
--max-parallel-loading-workers value
--ray-workers-use-nsight bool
--disable-custom-all-reduce bool
--worker-cls value
--worker-extension-cls value
--block-size value
--gpu-memory-utilization value
--kv-cache-memory-bytes value
--swap-space value
--kv-cache-dtype value
--num-gpu-blocks-override value
--enable-prefix-caching bool
--prefix-caching-hash-algo value
--cpu-offload-gb value
--calculate-kv-scales bool
--kv-sharing-fast-prefill bool
--mamba-cache-dtype value
--mamba-ssm-cache-dtype value
--mamba-block-size value
--mamba-cache-mode value
--kv-offloading-size value
--kv-offloading-backend value
--limit-mm-per-prompt value
--enable-mm-embeds bool
--media-io-kwargs value
--mm-processor-kwargs value
--mm-processor-cache-gb value
--mm-processor-cache-type value
--mm-shm-cache-max-object-size-mb value
--mm-encoder-only bool
--mm-encoder-tp-mode value
--mm-encoder-attn-backend value
--interleave-mm-strings bool
--skip-mm-profiling bool
--video-pruning-rate value
--enable-lora bool
--max-loras value
--max-lora-rank value
--lora-dtype value
--enable-tower-connector-lora bool
--max-cpu-loras value
--fully-sharded-loras bool
--default-mm-loras value
--specialize-active-lora bool
--show-hidden-metrics-for-version value
--otlp-traces-endpoint value
--collect-detailed-traces list
--kv-cache-metrics bool
--kv-cache-metrics-sample value
--cudagraph-metrics bool
--enable-layerwise-nvtx-tracing bool
--enable-mfu-metrics bool
--enable-logging-iteration-details bool
--max-num-batched-tokens value
--max-num-seqs value
--max-num-partial-prefills value
--max-long-partial-prefills value
--long-prefill-token-threshold value
--scheduling-policy value
--enable-chunked-prefill bool
--disable-chunked-mm-input bool
--scheduler-cls value
--disable-hybrid-kv-cache-manager bool
--async-scheduling bool
--stream-interval value
--cudagraph-capture-sizes list
--max-cudagraph-capture-size value
--speculative-config value
--kv-transfer-config value
--kv-events-config value
--ec-transfer-config value
--compilation-config value -cc
--attention-config value -ac
--additional-config value
--structured-outputs-config value
--profiler-config value
--optimization-level value -O
--weight-transfer-config value
--disable-log-stats switch
--aggregate-engine-logging switch
"""

KINDS = ("value", "bool", "switch", "list", "optional")


def _load() -> tuple[dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for line in _TABLE.strip().splitlines():
        flag, kind, *short = line.split()
        assert kind in KINDS, line
        kinds[flag] = kind
        for alias in short:
            aliases[alias] = flag
        if kind == "bool":
            kinds["--no-" + flag[2:]] = "negated"
    return kinds, aliases


# flag -> kind ("negated" for the `--no-` form of a bool flag); short alias -> long flag.
FLAG_KINDS, ALIASES = _load()

# Flags whose value is a JSON object (also settable key by key as `--flag.key VALUE`).
JSON_FLAGS = frozenset(
    {
        "--speculative-config",
        "--compilation-config",
        "--additional-config",
        "--attention-config",
        "--kv-transfer-config",
        "--kv-events-config",
        "--ec-transfer-config",
        "--structured-outputs-config",
        "--profiler-config",
        "--eplb-config",
        "--weight-transfer-config",
        "--hf-overrides",
        "--override-generation-config",
        "--model-loader-extra-config",
        "--pooler-config",
    }
)

# vllm/config/speculative.py of the same era: SpeculativeMethod = ngram, medusa, mlp_speculator,
# draft_model, suffix, the EAGLE types (eagle, eagle3 and every MTP model type) and ngram_gpu.
SPECULATIVE_METHODS = frozenset(
    {
        "ngram",
        "medusa",
        "mlp_speculator",
        "draft_model",
        "suffix",
        "eagle",
        "eagle3",
        "ngram_gpu",
        "deepseek_mtp",
        "mimo_mtp",
        "glm4_moe_mtp",
        "glm4_moe_lite_mtp",
        "glm_ocr_mtp",
        "ernie_mtp",
        "exaone_moe_mtp",
        "qwen3_next_mtp",
        "qwen3_5_mtp",
        "longcat_flash_mtp",
        "mtp",
        "pangu_ultra_moe_mtp",
        "step3p5_mtp",
    }
)

# vllm/config/compilation.py CUDAGraphMode names (vllm-ascend maps them onto ACL graphs).
CUDAGRAPH_MODES = frozenset({"NONE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY", "FULL_AND_PIECEWISE"})


def canonical(flag: str) -> str:
    """The long form of a flag as vLLM registers it: aliases resolved, underscores turned into dashes."""
    if flag in ALIASES:
        return ALIASES[flag]
    if flag.startswith("--"):
        return "--" + flag[2:].replace("_", "-")
    return flag


def kind_of(flag: str) -> str | None:
    """The kind of a canonical flag, or None when the pinned vllm does not know it."""
    return FLAG_KINDS.get(flag)


def suggest(flag: str) -> str | None:
    """The closest known flag to an unknown one (did-you-mean), or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(flag, list(FLAG_KINDS) + list(ALIASES), n=1, cutoff=0.75)
    return canonical(matches[0]) if matches else None
