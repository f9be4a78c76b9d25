"""Dataset builder: openly licensed emoji art from npm packages -> 128x128 RGB images + captions.

Sources (all fetched with `npm pack` at pinned versions, never from any other host):
  twemoji   @twemoji/svg          CC-BY 4.0   (artwork by Twitter, Inc and other contributors)
  noto      @iconify-json/noto    Apache-2.0  (Google's Noto Emoji SVGs, packaged by Iconify)
  openmoji  openmoji (color SVG)  CC-BY-SA 4.0
Labels and tags come from emojibase-data (MIT); OpenMoji adds its own annotations.
Apple and Facebook artwork is not openly licensed and is never used.

Every SVG is rendered with resvg at 2x, cropped to the artwork's bounding box (OpenMoji pads its
72-unit canvas heavily, the others do not, so cropping makes the framing uniform), resized to the
output size and composited on a WHITE background (alpha is flattened; white matches the page).

Output folder:
  images.npy    uint8 [N, S, S, 3]
  meta.json     concepts (label, tags, hexcode, split), images (concept index, style), licences
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NPM_PACKAGES = {
    "twemoji": ("@twemoji/svg", "15.0.0"),
    "noto": ("@iconify-json/noto", "1.2.9"),
    "openmoji": ("openmoji", "17.0.0"),
    "emojibase": ("emojibase-data", "17.0.0"),
}
STYLES = ("twemoji", "noto", "openmoji")

LICENCES = {
    "twemoji": {
        "package": "@twemoji/svg@15.0.0",
        "license": "CC-BY-4.0",
        "attribution": "Twemoji graphics by Twitter, Inc and other contributors, licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
    },
    "noto": {
        "package": "@iconify-json/noto@1.2.9",
        "license": "Apache-2.0",
        "attribution": "Noto Emoji by Google Inc, licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0)",
    },
    "openmoji": {
        "package": "openmoji@17.0.0",
        "license": "CC-BY-SA-4.0",
        "attribution": "OpenMoji, the open-source emoji and icon project, licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
    },
    "emojibase": {
        "package": "emojibase-data@17.0.0",
        "license": "MIT",
        "attribution": "Emoji labels and tags from emojibase-data by Miles Johnson, MIT licence",
    },
}

# Caption templates used for TRAINING. Evaluation paraphrases (evaluate.py) must never match these.
CAPTION_TEMPLATES = (
    "{label}",
    "{label}, {style} emoji",
    "{style} style {label}",
    "{label} emoji: {tags}",
    "{tags}, {label}",
)


class DatasetError(RuntimeError):
    """A clear, user-facing error from the dataset builder."""


@dataclass
class Concept:
    label: str
    tags: list[str]
    hexcode: str
    group: int
    split: str  # "train" or "val"


def norm_hex(hexcode: str) -> str:
    """Canonical code point key: lower-case, variation selectors dropped."""
    parts = [p.lower() for p in hexcode.replace("_", "-").split("-") if p.lower() != "fe0f"]
    return "-".join(parts)


def concept_split(label: str, val_fraction: float) -> str:
    """Deterministic split by concept: a hash of the label, so it never depends on order or seed."""
    h = int(hashlib.sha256(label.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def fetch_packages(cache_dir: Path) -> dict[str, Path]:
    """`npm pack` each pinned package once into cache_dir and unpack it; returns package roots."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    roots = {}
    for key, (name, version) in NPM_PACKAGES.items():
        root = cache_dir / f"{key}-{version}"
        if not (root / "package" / "package.json").exists():
            tgz_name = name.lstrip("@").replace("/", "-") + f"-{version}.tgz"
            tgz = cache_dir / tgz_name
            if not tgz.exists():
                try:
                    subprocess.run(["npm", "pack", "-q", f"{name}@{version}"], cwd=cache_dir, check=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                except FileNotFoundError as e:
                    raise DatasetError("npm is required to fetch the emoji packages (install Node.js)") from e
                except subprocess.CalledProcessError as e:
                    raise DatasetError(f"npm pack {name}@{version} failed: {e.stderr.decode()[-500:]}") from e
            tmp = root.with_suffix(".partial")
            with tarfile.open(tgz) as tf:
                tf.extractall(tmp, filter="data")
            tmp.rename(root)
        roots[key] = root / "package"
    return roots


def svg_sources(roots: dict[str, Path]) -> dict[str, dict[str, callable]]:
    """Per style: normalised hexcode -> a function returning the SVG markup."""
    out: dict[str, dict] = {}
    tw = roots["twemoji"]
    out["twemoji"] = {norm_hex(p.stem): (lambda p=p: p.read_text()) for p in tw.glob("*.svg")}
    om = roots["openmoji"] / "color" / "svg"
    out["openmoji"] = {norm_hex(p.stem): (lambda p=p: p.read_text()) for p in om.glob("*.svg")}
    icons = json.loads((roots["noto"] / "icons.json").read_text())
    chars = json.loads((roots["noto"] / "chars.json").read_text())
    w, h = icons.get("width", 128), icons.get("height", 128)

    def noto_svg(name: str) -> str:
        entry = icons["icons"].get(name)
        if entry is None:  # aliases point at a parent icon
            entry = icons["icons"][icons["aliases"][name]["parent"]]
        ew, eh = entry.get("width", w), entry.get("height", h)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                f'viewBox="0 0 {ew} {eh}" width="{ew}" height="{eh}">{entry["body"]}</svg>')

    out["noto"] = {norm_hex(k): (lambda n=n: noto_svg(n)) for k, n in chars.items()}
    return out


def load_concepts(roots: dict[str, Path], val_fraction: float) -> list[Concept]:
    """Base emoji (no skin-tone variants, no components/regional indicators) with labels and tags."""
    data = json.loads((roots["emojibase"] / "en" / "data.json").read_text())
    concepts = []
    for e in data:
        if e.get("group") is None or e.get("group") == 2:  # 2 = skin-tone/hair components
            continue
        label = e["label"].strip()
        concepts.append(Concept(label=label, tags=list(e.get("tags", [])), hexcode=norm_hex(e["hexcode"]),
                                group=int(e["group"]), split=concept_split(label, val_fraction)))
    return concepts


def render_svg(svg: str, size: int) -> np.ndarray:
    """SVG markup -> uint8 [size, size, 3] on white, cropped to the artwork's bounding box."""
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, width=size * 2, height=size * 2)
    im = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    alpha = np.asarray(im)[..., 3]
    ys, xs = np.nonzero(alpha > 8)
    if len(xs) == 0:
        raise DatasetError("empty artwork")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = int(max(x1 - x0, y1 - y0) * 1.08) + 2  # ~4% margin each side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (int(cx - side / 2), int(cy - side / 2), int(cx - side / 2) + side, int(cy - side / 2) + side)
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    canvas.paste(im.crop(box), (0, 0))
    canvas = canvas.resize((size, size), Image.LANCZOS)
    white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, canvas).convert("RGB"))


def _render_job(args):
    svg, size = args
    try:
        return render_svg(svg, size)
    except Exception as e:  # a corrupt SVG is reported and skipped, never silently kept
        return str(e)


def build(out_dir: Path, cache_dir: Path, size: int = 128, styles=STYLES, limit: int | None = None,
          val_fraction: float = 0.05, workers: int | None = None) -> dict:
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise DatasetError(f"unknown style(s) {unknown}; choose from {list(STYLES)}")
    roots = fetch_packages(cache_dir)
    sources = svg_sources(roots)
    concepts = load_concepts(roots, val_fraction)
    if limit:
        concepts = concepts[:limit]
    jobs, records = [], []
    kept_concepts: list[Concept] = []
    for c in concepts:
        avail = [s for s in styles if c.hexcode in sources[s]]
        if not avail:
            continue
        ci = len(kept_concepts)
        kept_concepts.append(c)
        for s in avail:
            jobs.append((sources[s][c.hexcode](), size))
            records.append({"concept": ci, "style": s})
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as ex:
        results = list(ex.map(_render_job, jobs, chunksize=16))
    images, kept_records, skipped = [], [], []
    for rec, res in zip(records, results):
        if isinstance(res, str):
            skipped.append({**rec, "error": res})
            continue
        images.append(res)
        kept_records.append(rec)
    if not images:
        raise DatasetError("no image could be rendered")
    out_dir.mkdir(parents=True, exist_ok=True)
    arr = np.stack(images)
    tmp = out_dir / "images.partial.npy"
    np.save(tmp, arr)
    meta = {
        "size": size,
        "background": "white (alpha composited)",
        "styles": list(styles),
        "concepts": [c.__dict__ for c in kept_concepts],
        "images": kept_records,
        "skipped": skipped,
        "caption_templates": list(CAPTION_TEMPLATES),
        "licences": {k: LICENCES[k] for k in list(styles) + ["emojibase"]},
    }
    (out_dir / "meta.json").write_text(json.dumps(meta))
    os.replace(tmp, out_dir / "images.npy")  # written last: a half-built dataset is never picked up
    return meta


def captions_for(concept: dict, style: str) -> list[str]:
    tags = ", ".join(concept["tags"][:4]) or concept["label"]
    return [t.format(label=concept["label"], style=style, tags=tags) for t in CAPTION_TEMPLATES]


def attribution(meta: dict) -> dict:
    """Machine-readable attribution that ships with every exported model."""
    counts: dict[str, int] = {}
    for r in meta["images"]:
        counts[r["style"]] = counts.get(r["style"], 0) + 1
    return {
        "training_data": [{"style": s, "images": counts.get(s, 0), **LICENCES[s]} for s in meta["styles"]],
        "captions": LICENCES["emojibase"],
        "note": "Model weights are derived from the artwork above; CC-BY-SA 4.0 (OpenMoji) share-alike terms apply to generated derivatives where they are adaptations.",
    }


class EmojiDataset:
    """Loaded dataset: images as uint8 arrays plus caption lookup."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        if not (folder / "images.npy").exists():
            raise DatasetError(f"no dataset in {folder}: run `python -m factory data` first")
        self.meta = json.loads((folder / "meta.json").read_text())
        self.images = np.load(folder / "images.npy", mmap_mode="r")
        self.concepts = self.meta["concepts"]
        self.records = self.meta["images"]

    def indices(self, split: str) -> list[int]:
        return [i for i, r in enumerate(self.records) if self.concepts[r["concept"]]["split"] == split]

    def captions(self, i: int) -> list[str]:
        r = self.records[i]
        return captions_for(self.concepts[r["concept"]], r["style"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("data/emoji128"))
    p.add_argument("--cache", type=Path, default=Path("data/npm-cache"))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--styles", default=",".join(STYLES))
    p.add_argument("--limit", type=int, default=None, help="first N concepts only (tests)")
    a = p.parse_args(argv)
    try:
        meta = build(a.out, a.cache, a.size, tuple(a.styles.split(",")), a.limit)
    except DatasetError as e:
        sys.exit(f"dataset: {e}")
    print(f"dataset: {len(meta['images'])} images of {len(meta['concepts'])} concepts, "
          f"{len(meta['skipped'])} skipped -> {a.out}")


if __name__ == "__main__":
    main()
