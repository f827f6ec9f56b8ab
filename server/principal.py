"""Who is calling: a principal, its role, and what the role grants."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.settings import RateLimit, Settings

__all__ = ["Principal", "principal_for"]


class Principal(BaseModel):
    """A caller: an id, a role, and the tools and document scopes that role grants."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    tools: frozenset[str] = Field(default_factory=frozenset)
    scopes: frozenset[str] = Field(default_factory=frozenset)
    rate_limit: RateLimit | None = None

    def may_call(self, tool: str) -> bool:
        return "*" in self.tools or tool in self.tools

    @property
    def all_scopes(self) -> bool:
        return "*" in self.scopes


def principal_for(settings: Settings, principal_id: str, role: str) -> Principal:
    """Build the principal `principal_id` acting as `role` (which must exist in settings)."""
    grants = settings.roles[role]
    return Principal(
        id=principal_id,
        role=role,
        tools=frozenset(grants.tools),
        scopes=frozenset(grants.scopes),
        rate_limit=grants.rate_limit or settings.rate_limit,
    )
