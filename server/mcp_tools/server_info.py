"""`server_info`: version, enabled capabilities, and what the caller may do."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.app import TOOLS_COMPONENT
from ogmux.server.context import ToolContext
from ogmux.server.prompts import PROMPTS
from ogmux.server.registry import ToolSpec, discover_resources, discover_tools
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
    other_tools: dict[str, str] = Field(description="tools not offered to the caller -> how to get them")
    prompts: list[str] = Field(description="MCP prompts for the main workflows")
    resources: list[str] = Field(description="resource URIs and templates")


async def server_info(args: ServerInfoInput, ctx: ToolContext) -> ServerInfo:
    specs = ctx.state.component(TOOLS_COMPONENT, lambda _: discover_tools())
    served = {s.name for s in specs}
    p = ctx.principal
    profile = ctx.settings.server.tools
    other = {
        s.name: f"not in tool profile {profile!r}: serve with [server].tools = \"all\""
        for s in discover_tools() if s.name not in served
    }  # fmt: skip
    other |= {
        s.name: f"role {p.role!r} lacks it: add it to roles.{p.role}.tools or use a token of a role that has it"
        for s in specs if not p.may_call(s.name)
    }  # fmt: skip
    return ServerInfo(
        name=ctx.settings.server.name,
        version=__version__,
        capabilities=sorted({s.capability for s in specs}),
        principal=p.id,
        role=p.role,
        granted_tools=[s.name for s in specs if p.may_call(s.name)],
        document_scopes=sorted(p.scopes),
        other_tools=other,
        prompts=[pr.name for pr in PROMPTS if pr.tools <= {s.name for s in specs if p.may_call(s.name)}],
        resources=[r.uri for r in discover_resources() if any(p.may_call(s.name) and s.capability == r.capability for s in specs)],
    )


def render(info: ServerInfo) -> str:
    lines = [
        f"{info.name} {info.version}; capabilities: {', '.join(info.capabilities)}",
        (
            f"you are {info.principal!r} (role {info.role!r}); tools: {', '.join(info.granted_tools) or 'none'}; "
            f"document scopes: {', '.join(info.document_scopes) or 'none'}"
        ),
    ]
    if info.prompts:
        lines.append(f"prompts: {', '.join(info.prompts)}")
    if info.resources:
        lines.append(f"resources: {', '.join(info.resources)}")
    by_reason: dict[str, list[str]] = {}
    for name, how in info.other_tools.items():
        by_reason.setdefault(how, []).append(name)
    lines += [f"not offered: {', '.join(names)} — {how}" for how, names in by_reason.items()]
    return "\n".join(lines)


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
