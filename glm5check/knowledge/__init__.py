"""What glm5check knows about GLM-5, vLLM and vllm-ascend: the model layout, the memory model, the flags of
`vllm serve`, the launch command, profiles and stacks. Pure: nothing here touches the machine."""
