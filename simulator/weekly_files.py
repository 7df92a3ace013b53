"""A weekly shop kept in a folder between commands, so a programme can be run week by week from the CLI.

`save_shop` writes every array of a `WeeklyShop` to `state.npz` (numpy's own format, read back with
`allow_pickle=False`: the folder is a file like any other, never unpickled) and its settings, week and random
generator state to `state.json`; `load_shop` rebuilds the very same shop, so stepping it after a save gives the
same events as stepping it in memory. `sent_mask` turns a cycle's send list (CSV) into who was sent a treatment.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.errors import WinbackError
from simulator.weekly import WeeklyShop, WeeklyShopConfig

STATE_ARRAYS = "state.npz"
STATE_JSON = "state.json"
FORMAT = 1


class ShopFolderError(WinbackError, ValueError):
    """A folder that does not hold a weekly shop, or a send list that cannot be read; the message says which."""


def save_shop(shop: WeeklyShop, folder: str | os.PathLike[str]) -> Path:
    """Write the shop's arrays and settings into `folder` (created if missing); returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for name, value in vars(shop).items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, tuple) and all(isinstance(v, np.ndarray) for v in value):
            arrays.update({f"{name}.{i}": v for i, v in enumerate(value)})
            scalars[name] = {"tuple": len(value)}
        elif isinstance(value, np.random.Generator):
            scalars[name] = {"rng": value.bit_generator.state}
        elif isinstance(value, WeeklyShopConfig):
            scalars[name] = {"config": {k: dict(v) if isinstance(v, dict) else v for k, v in asdict(value).items()}}
        elif isinstance(value, pd.Timestamp):
            scalars[name] = {"timestamp": value.isoformat()}
        elif isinstance(value, (bool, int, float, str)):
            scalars[name] = {"value": value}
        else:
            raise TypeError(f"WeeklyShop.{name} ({type(value).__name__}) has no file form; teach save_shop about it")
    np.savez(out / STATE_ARRAYS, **arrays)  # type: ignore[arg-type]  # numpy's stub types the first keyword
    (out / STATE_JSON).write_text(json.dumps({"format": FORMAT, "attributes": scalars}, indent=1, default=int))
    return out


def load_shop(folder: str | os.PathLike[str]) -> WeeklyShop:
    """The shop `save_shop` wrote into `folder`, exactly; a folder that holds none is named in the error."""
    where = Path(folder)
    try:
        meta = json.loads((where / STATE_JSON).read_text())
        stored = np.load(where / STATE_ARRAYS, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ShopFolderError(f"{where} does not hold a weekly shop (make one with `winback simulate weekly`): "
                              f"{error}") from None
    if meta.get("format") != FORMAT:
        raise ShopFolderError(f"{where / STATE_JSON}: format {meta.get('format')!r} is not {FORMAT}")
    shop = WeeklyShop.__new__(WeeklyShop)
    with stored:
        arrays = {name: stored[name] for name in stored.files}
    for name, value in arrays.items():
        if "." not in name:
            setattr(shop, name, value)
    for name, spec in meta["attributes"].items():
        if "tuple" in spec:
            setattr(shop, name, tuple(arrays[f"{name}.{i}"] for i in range(spec["tuple"])))
        elif "rng" in spec:
            rng = np.random.default_rng()
            rng.bit_generator.state = spec["rng"]
            setattr(shop, name, rng)
        elif "config" in spec:
            setattr(shop, name, WeeklyShopConfig(**spec["config"]))
        elif "timestamp" in spec:
            setattr(shop, name, pd.Timestamp(spec["timestamp"]))
        else:
            setattr(shop, name, spec["value"])
    return shop


def sent_mask(shop: WeeklyShop, send_lists: list[str]) -> np.ndarray:
    """Who the send lists (a cycle's `--out` CSV: user_id, arm, treatment_key) sent a treatment; a control-arm row
    (no treatment_key) sends nothing, and ids the shop does not know are refused by name."""
    mask = np.zeros(shop.user_ids.size, dtype=bool)
    for path in send_lists:
        try:
            frame = pd.read_csv(path, dtype=str)
        except (OSError, ValueError) as error:
            raise ShopFolderError(f"{path}: cannot be read as a send list ({error})") from None
        missing = [c for c in ("user_id", "treatment_key") if c not in frame.columns]
        if missing:
            raise ShopFolderError(f"{path}: a send list needs the columns user_id and treatment_key; "
                                  f"missing {', '.join(missing)}")
        treated = frame.loc[frame["treatment_key"].notna() & (frame["treatment_key"] != ""), "user_id"]
        positions = shop.positions(treated)
        unknown = treated[positions < 0]
        if len(unknown):
            raise ShopFolderError(f"{path}, row {int(unknown.index[0]) + 2}, column user_id: {unknown.iloc[0]!r} is not "
                                  f"a user of this shop ({len(unknown):,} such rows)")
        mask[positions] = True
    return mask
