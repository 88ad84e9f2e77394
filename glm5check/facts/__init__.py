"""Fact providers: `provider(ctx) -> value` functions, one module per concern, used via `ctx.fact(provider)`."""
