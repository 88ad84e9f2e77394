"""Fact providers: `provider(ctx) -> value`, run once per run through `ctx.fact(provider)`."""
