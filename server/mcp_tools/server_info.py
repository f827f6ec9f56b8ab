"""`server_info`: version, enabled capabilities, and what the caller may do."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.app import TOOLS_COMPONENT
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec, discover_tools
from ogmux.server.version import __version__


class ServerInfoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerInfo(BaseModel):
    name: str
    version: str
    capabilities: list[str] = Field(description="capabilities this server offers")
    principal: str
    role: str
    granted_tools: list[str] = Field(description="tools the caller may call")
    document_scopes: list[str] = Field(description='document scopes the caller may read ("*" = all)')


async def server_info(args: ServerInfoInput, ctx: ToolContext) -> ServerInfo:
    specs = ctx.state.component(TOOLS_COMPONENT, lambda _: discover_tools())
    p = ctx.principal
    return ServerInfo(
        name=ctx.settings.server.name,
        version=__version__,
        capabilities=sorted({s.capability for s in specs}),
        principal=p.id,
        role=p.role,
        granted_tools=[s.name for s in specs if p.may_call(s.name)],
        document_scopes=sorted(p.scopes),
    )


def render(info: ServerInfo) -> str:
    return (
        f"{info.name} {info.version}; capabilities: {', '.join(info.capabilities)}\n"
        f"you are {info.principal!r} (role {info.role!r}); tools: {', '.join(info.granted_tools) or 'none'}; "
        f"document scopes: {', '.join(info.document_scopes) or 'none'}"
    )


SPEC = ToolSpec(
    name="server_info",
    title="Server info",
    description="Your role, tools and document scopes; the tools, prompts and resources to ask for. Call when unsure.",
    input_model=ServerInfoInput,
    output_model=ServerInfo,
    handler=server_info,
    capability="core",
    render=render,
)
