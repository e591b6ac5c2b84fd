import subprocess
import sys

import gymnasium
import pytest

import hiergym
from hiergym.error import ConfigError, UnknownEnvError
from hiergym.info_keys import InfoKeys
from hiergym.registration import all_entries


def test_unknown_id_suggests_close_match():
    ids = [e.id for e in all_entries() if not e.multi_agent]
    if not ids:
        pytest.skip("no single-agent env registered yet")
    typo = ids[0].replace("-v0", "-v9")
    with pytest.raises(UnknownEnvError, match="Did you mean"):
        hiergym.make(typo)


def test_unknown_parallel_id_raises_unknown_env():
    with pytest.raises(UnknownEnvError, match="hiergym list"):
        hiergym.make_parallel("hiergym/NoSuchThing-v0")


def test_errors_survive_pickling_across_processes():
    """Worker processes (collector pool, benchmark pools) send errors back pickled; they must arrive whole."""
    import pickle

    from hiergym.error import EnvSpecError

    for err in (ConfigError("lr", -1.0, "a positive learning rate"), EnvSpecError("num_boxes", 9, "fewer boxes")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and (back.field, back.value) == (err.field, err.value)
    with pytest.raises(UnknownEnvError) as info:
        hiergym.make("hiergym/Sokoban-v9")
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value) and back.suggestions == info.value.suggestions


def test_every_single_agent_id_is_in_gymnasium_registry():
    for e in all_entries():
        if not e.multi_agent:
            assert e.id in gymnasium.registry
            assert e.id.startswith("hiergym/") and e.id.rsplit("-v", 1)[1].isdigit()


def test_ids_are_unique_and_described():
    ids = [e.id for e in all_entries()]
    assert len(ids) == len(set(ids))
    assert all(e.description for e in all_entries())


def test_import_hiergym_is_light():
    code = (
        "import sys, hiergym\n"
        "heavy = [m for m in ('torch', 'transformers', 'textworld', 'fastapi', 'uvicorn', 'ray', 'vllm', 'pygame', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import hiergym pulled in heavy modules: {out}"


def test_info_keys_table_is_documented():
    keys = InfoKeys.all()
    assert len(keys) == len(set(keys))
    constants = {v for k, v in vars(InfoKeys).items() if k.isupper() and isinstance(v, str)}
    assert constants == set(keys), "every InfoKeys constant needs a line in InfoKeys._DOCS"


def test_config_error_names_field_and_value():
    err = ConfigError("group_size", 1, "GRPO needs at least 2 rollouts per task")
    assert "group_size=1" in str(err) and "GRPO" in str(err)
