"""Settings: TOML file, OGMUX_* overrides, and errors that name the file, the key and the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from ogmux.server.settings import ConfigError, Settings, _is_model, _model_in, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ogmux.toml"


def test_defaults_give_a_local_admin() -> None:
    s = load_settings(None)
    assert s.server.stdio_role == "admin" and s.roles["admin"].tools == ["*"]
    assert not s.auth_enabled()


def test_file_and_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[server]\nport = 9000\nname = "from-file"\n[roles.admin]\n[roles.reader]\ntools = ["server_info"]\nscopes = ["public"]\n')
    monkeypatch.setenv("OGMUX_SERVER__PORT", "9100")
    s = load_settings(cfg)
    assert s.server.port == 9100 and s.server.name == "from-file"
    assert s.roles["reader"].scopes == ["public"]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[server]\nport = 70000\n", "server.port", "less than or equal to 65535"),
        ("[server]\nprot = 1\n", "server.prot", "unknown key (did you mean 'port'?); `ogmux config example` prints every key"),
        ("[servr]\nport = 1\n", "servr", "unknown key (did you mean 'server'?)"),
        ('[roles.admin]\ntols = ["*"]\n', "roles.admin.tols", "unknown key (did you mean 'tools'?)"),
        ("[server]\nzzz = 1\n", "server.zzz", "unknown key (known keys: name, host, port,"),
        ('[[tokens]]\nprincipal = "a"\nrole = "ghost"\nhash = "sha256$' + "0" * 32 + "$" + "0" * 64 + '"\n', "(top level)", "'ghost' is not a defined role"),
        ('[[tokens]]\nprincipal = "a"\nrole = "admin"\nhash = "plaintext-token"\n', "tokens.0.hash", "should match pattern"),
        ("[jwt]\nenabled = true\n", "jwt", "jwt.issuer is required"),
        ('[jwt]\nenabled = true\nissuer = "https://i"\nalgorithms = ["RS256"]\n', "jwt", "public_key_file or jwt.jwks_file"),
        ('[server]\nstdio_role = "nobody"\n', "(top level)", "server.stdio_role 'nobody' is not a defined role"),
    ],
)
def test_invalid_config_names_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    msg = str(exc.value)
    assert str(cfg) in msg and f"{key}:" in msg and reason in msg


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_settings(bad)
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "absent.toml")
    assert str(exc.value) == f"{tmp_path / 'absent.toml'}: settings file not found (check the path; " \
                             "`ogmux config example > FILE` writes a documented one)"


def test_a_file_saved_in_another_encoding_names_the_byte_and_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[server]\nname = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert str(exc.value) == f"{cfg}: not UTF-8 text (byte 0xe9 on line 2): save the file as UTF-8"


def test_a_token_redirected_into_the_file_is_named_by_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "ogmux.toml"
    # `ogmux token new ... >> ogmux.toml 2>&1` appends the token line too.
    cfg.write_text(
        '[server]\nname = "ogmux"\n# ogm_a_commented_out_token_is_no_problem\n'
        "token (shown once; give it to alice): ogm_q1BSLkfK0sWXZcGSi68Y3iKzS52py280gK2lTw5-s3Q\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert str(exc.value).startswith(f"{cfg}: not valid TOML: ")
    assert str(exc.value).endswith(
        "; line 4 holds a bearer token: delete that line (the file keeps only the token's hash) "
        "and give the token to its client"
    )
    cfg.write_text("[server\n# ogm_q1BSLkfK0sWXZcGSi68Y3iKzS52py280gK2lTw5-s3Q\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert "bearer token" not in str(exc.value)


def test_one_problem_is_one_line_and_several_are_listed(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 70000\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert str(exc.value) == f"invalid configuration in {cfg}: server.port: Input should be less than or equal to 65535" \
                             ", got 70000"
    cfg.write_text("[server]\nport = 70000\nprot = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert str(exc.value).splitlines()[0] == f"invalid configuration in {cfg}:" and len(str(exc.value).splitlines()) == 3


def test_a_wrong_value_is_repeated_bounded_and_without_a_url_password(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[server]\nport = "abc"\nlog_level = "{"v" * 100}"\n[state]\nurl = "http://me:secret@h/0"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    lines = str(exc.value).splitlines()[1:]
    assert lines[0] == "  server.port: Input should be a valid integer, unable to parse string as an integer, got 'abc'"
    assert lines[1].endswith(f", got '{'v' * 58}…") and "secret" not in lines[2] and lines[2].endswith("'http://me:***@h/0'")


def test_an_environment_variable_is_named_when_its_value_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text("[server]\nport = 9000\n")
    monkeypatch.setenv("OGMUX_SERVER__PORT", "abc")
    with pytest.raises(ConfigError, match=r"server\.port \(from OGMUX_SERVER__PORT\): Input should be a valid integer"):
        load_settings(cfg)


def test_an_environment_variable_naming_no_section_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OGMUX_SERVR__PORT", "9000")
    monkeypatch.setenv("OGMUX_UNRELATED", "1")  # not a setting (no section separator): left alone
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(exc.value) == ("invalid configuration in environment/defaults: OGMUX_SERVR__PORT: "
                              "no settings section 'servr'; did you mean OGMUX_SERVER__...?")


def test_bundled_example_config_is_valid() -> None:
    s = load_settings(EXAMPLE)
    assert set(s.roles) >= {"admin", "reader"}


def test_relative_paths_in_a_file_resolve_against_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "ogmux.toml").write_text(
        '[objectgraph]\ncorpus = "docs"\n[eval]\nruns_dir = "../runs"\n[audit]\npath = "/var/log/a.jsonl"\n'
        '[router]\npredictor_path = "~/p.json"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OGMUX_SOLVER__NETWORK_DIR", "nets")
    s = load_settings(Path("conf") / "ogmux.toml")
    assert s.objectgraph.corpus == conf / "docs"
    assert s.eval.runs_dir.resolve() == tmp_path / "runs"
    assert s.audit.path == Path("/var/log/a.jsonl") and str(s.router.predictor_path) == "~/p.json"
    assert s.solver.network_dir == Path("nets")  # environment values are not the file's: the working directory's


def test_defaults_point_at_the_packaged_demo_data() -> None:
    from ogmux.demo import CORPUS, SAFETY_RUNS

    s = load_settings(None)
    assert s.objectgraph.corpus_dir() == CORPUS and s.eval.runs_dir == SAFETY_RUNS
    assert (SAFETY_RUNS / "radsafe-synthetic").is_dir() and any(CORPUS.glob("*.og"))


def _documented_keys_by_section(text: str) -> dict[str, str]:
    """examples/ogmux.toml's text under each section header (commented-out headers count), by header."""
    blocks: dict[str, str] = {}
    header = ""
    for line in text.splitlines():
        m = re.match(r"\s*#?\s*\[\[?([A-Za-z0-9_.\-]+)\]\]?\s*(#.*)?$", line)
        if m:
            header = m.group(1)
        else:
            blocks[header] = blocks.get(header, "") + line + "\n"
    return blocks


def _leaf_keys(model: type[BaseModel], path: str) -> Iterator[tuple[str, str]]:
    """(section path with `*` for a table name, key) of every setting that is not itself a section."""
    for name, field in model.model_fields.items():
        tp = _model_in(field.annotation)
        star = ""
        if get_origin(tp) in (dict, list):
            star = ".*" if get_origin(tp) is dict else ""
            tp = _model_in(get_args(tp)[-1])
        if _is_model(tp):
            yield from _leaf_keys(tp, f"{path}.{name}{star}".lstrip("."))
        else:
            yield path, name


def test_the_example_config_documents_every_key_in_its_section() -> None:
    blocks = _documented_keys_by_section(EXAMPLE.read_text(encoding="utf-8"))
    undocumented = []
    for section, key in _leaf_keys(Settings, ""):
        pattern = re.compile("^" + re.escape(section).replace(r"\*", r"[^.]+") + "$")
        # a section written inline (`rate_limit = { ... }`, `rules = [{ ... }]`) is documented in its parent's block
        parents = [section.rsplit(".", i)[0] for i in range(section.count(".") + 1)]
        text = "".join(body for header, body in blocks.items()
                       if pattern.match(header) or any(re.fullmatch(re.escape(p).replace(r"\*", r"[^.]+"), header)
                                                       for p in parents[1:]))
        if not re.search(rf"(^|[\s{{,#]){re.escape(key)}\s*=", text, re.MULTILINE):
            undocumented.append(f"{section}.{key}" if section else key)
    assert not undocumented, f"keys missing from examples/ogmux.toml: {undocumented}"
