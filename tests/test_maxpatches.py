"""The Max patches: valid Max 8 JSON, sound wiring, and only messages the server accepts.

Max itself cannot run here, so `MaxSim` plays the patch: it knows the Max semantics of each
object class the patches use (message boxes with $1, prepend, pack, route, gate, zl, trigger,
arithmetic, the UI objects), drives every control through its extremes, feeds real server
replies into `udpreceive`, and collects what reaches `udpsend`. Each of those messages is
encoded as udpsend would (int -> i, float -> f, symbol -> s), parsed by the server's own
parser and validated by the server's own dispatcher. A patch that uses an object the
simulator does not know fails loudly, so the check cannot silently skip a box.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from engine_spy import real_engine  # noqa: F401 (fixture)
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from rtsynth.control.addresses import DISPATCHER, OscInputError
from rtsynth.control.osc import OscServer, parse_message

PATCH_DIR = Path(__file__).resolve().parents[1] / "maxpatches"
PATCHES = ["rtsynth.maxpat", "rtsynth-midi.maxpat"]
WAIT_S = 20.0  # generous, for a loaded machine; not a timing check

Msg = list  # Max message: atoms (int, float, str); ["bang"] is a bang

# --- object specs: (numinlets, numoutlets) as Max 8 reports them ------------------------------

UI_IO = {
    "kslider": (2, 2),
    "pictslider": (2, 2),
    "slider": (1, 1),
    "multislider": (1, 2),
    "toggle": (1, 1),
    "button": (1, 1),
    "number": (1, 2),
    "flonum": (1, 2),
    "umenu": (1, 3),
    "message": (2, 1),
    "comment": (1, 0),
}
FIXED_IO = {
    "udpsend": (1, 0),
    "udpreceive": (1, 1),
    "loadbang": (1, 1),
    "loadmess": (1, 1),
    "prepend": (1, 1),
    "metro": (2, 1),
    "notein": (1, 3),
    "bendin": (1, 2),
    "touchin": (1, 2),
    "pgmin": (1, 2),
    "zl": (2, 2),
    "+": (2, 1),
    "-": (2, 1),
    "/": (2, 1),
    ">": (2, 1),
}


def newobj_io(text: str) -> tuple[int, int]:
    cls, *args = text.split()
    n = len(args)
    if cls in FIXED_IO:
        return FIXED_IO[cls]
    if cls == "gate":
        return 2, int(args[0]) if args else 1
    computed = {"pack": (n, 1), "t": (1, n), "route": (n + 1, n + 1), "ctlin": (1, 2 if args else 3)}
    if cls not in computed:
        raise KeyError(f"the test does not know Max object {cls!r} (box text {text!r}); add its spec")
    return computed[cls]


def box_io(box: dict) -> tuple[int, int]:
    return newobj_io(box["text"]) if box["maxclass"] == "newobj" else UI_IO[box["maxclass"]]


# --- Max message helpers --------------------------------------------------------------------

NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$")


def atom(token: str) -> int | float | str:
    if NUMBER.match(token):
        return float(token) if any(c in token for c in ".e") else int(token)
    return token


def atoms(text: str) -> Msg:
    return [atom(t) for t in text.split()]


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def typed_like(template: int | float | str, value: object) -> object:
    """pack/arithmetic slots keep the type of their argument: 0 -> int (truncates), 0. -> float."""
    if isinstance(template, float):
        return float(value)
    if isinstance(template, int):
        return int(value)
    return value


def osc_building(box: dict) -> bool:
    """A box that produces an OSC message: a message box or prepend whose first word is an address."""
    text = box.get("text", "")
    if box["maxclass"] == "message":
        return text.startswith("/")
    return box["maxclass"] == "newobj" and text.startswith("prepend /")


class MaxSim:
    """Max's message passing for the objects the patches use (depth-first, right-to-left)."""

    def __init__(self, patch: dict):
        self.boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
        self.wires: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
        for line in patch["patcher"]["lines"]:
            (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
            self.wires[(src, outlet)].append((dst, inlet))
        for targets in self.wires.values():  # Max fans out right to left by position
            targets.sort(key=lambda t: -self.boxes[t[0]]["patching_rect"][0])
        self.state: dict[str, dict] = defaultdict(dict)
        self.sent: list[tuple[str, Msg]] = []  # (sending box, message) at udpsend
        self.emitted: Counter = Counter()
        self._last_sender: dict[str, str] = {}

    # the wiring
    def out(self, box_id: str, outlet: int, msg: Msg) -> None:
        self.emitted[box_id] += 1
        for dst, inlet in self.wires[(box_id, outlet)]:
            self._last_sender[dst] = box_id
            self.receive(dst, inlet, msg)

    def receive(self, box_id: str, inlet: int, msg: Msg) -> None:
        box = self.boxes[box_id]
        if box["maxclass"] == "newobj":
            cls, *args = box["text"].split()
            handler = getattr(self, f"_obj_{OBJ_NAMES.get(cls, cls)}", None)
            if handler is None:
                raise NotImplementedError(f"MaxSim has no semantics for {box['text']!r}")
            handler(box_id, inlet, msg, [atom(a) for a in args])
        else:
            getattr(self, f"_ui_{box['maxclass']}")(box_id, inlet, msg)

    def load(self) -> None:
        """What opening the patch does: loadbang and loadmess fire."""
        for box_id, box in self.boxes.items():
            text = box.get("text", "")
            if box["maxclass"] == "newobj" and text.startswith(("loadbang", "loadmess")):
                self.out(box_id, 0, atoms(text)[1:] or ["bang"])

    def text(self, box_id: str) -> str:
        """A message box's current content as shown (a 'set' message changes it)."""
        shown = self.state[box_id].get("atoms")
        return self.boxes[box_id].get("text", "") if shown is None else " ".join(map(str, shown))

    def ids(self, maxclass: str, text_prefix: str = "") -> list[str]:
        return [
            i for i, b in self.boxes.items() if b["maxclass"] == maxclass and b.get("text", "").startswith(text_prefix)
        ]

    # --- newobj semantics ------------------------------------------------------------------

    def _obj_udpsend(self, box_id, inlet, msg, args):
        self.sent.append((self._last_sender.get(box_id, ""), list(msg)))

    def _obj_prepend(self, box_id, inlet, msg, args):
        self.out(box_id, 0, args + msg)

    def _obj_pack(self, box_id, inlet, msg, args):
        slots = self.state[box_id].setdefault("slots", list(args))
        if msg == ["bang"]:
            return self.out(box_id, 0, list(slots))
        values = msg if inlet == 0 else msg[:1]
        for k, value in enumerate(values[: len(slots) - inlet]):
            slots[inlet + k] = typed_like(args[inlet + k], value)
        if inlet == 0:
            self.out(box_id, 0, list(slots))

    def _obj_zl(self, box_id, inlet, msg, args):
        mode = args[0]
        if mode == "rev":
            self.out(box_id, 0, msg[::-1])
        elif mode == "iter":
            size = args[1]
            for k in range(0, len(msg), size):
                self.out(box_id, 0, msg[k : k + size])
        else:
            raise NotImplementedError(f"zl {mode}")

    def _obj_route(self, box_id, inlet, msg, args):
        assert inlet == 0, "route's right inlets change its arguments; the patches do not use them"
        for k, key in enumerate(args):
            if msg and type(msg[0]) is type(key) and msg[0] == key:
                return self.out(box_id, k, msg[1:] or ["bang"])
        self.out(box_id, len(args), msg)

    def _obj_gate(self, box_id, inlet, msg, args):
        if inlet == 0:
            self.state[box_id]["open"] = int(msg[0])
            return
        state = self.state[box_id].get("open", args[1] if len(args) > 1 else 0)
        if state > 0:
            self.out(box_id, state - 1, msg)

    def _obj_t(self, box_id, inlet, msg, args):
        convert = {"b": lambda m: ["bang"], "l": list, "i": lambda m: [int(m[0])], "f": lambda m: [float(m[0])]}
        for k in reversed(range(len(args))):
            self.out(box_id, k, convert[args[k]](msg))

    def _obj_arith(self, box_id, inlet, msg, args):
        cls = self.boxes[box_id]["text"].split()[0]
        operand = self.state[box_id].get("right", args[0] if args else 0)
        if inlet == 1:
            self.state[box_id]["right"] = typed_like(args[0] if args else 0, msg[0])
            return
        left = typed_like(operand, msg[0])
        ops = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            ">": lambda a, b: int(a > b),
            "/": lambda a, b: a / b if isinstance(b, float) else int(a / b),
        }
        self.out(box_id, 0, [ops[cls](left, operand)])

    def _obj_metro(self, box_id, inlet, msg, args):
        if inlet == 0 and msg != [0]:
            self.out(box_id, 0, ["bang"])  # one tick stands for the running metro

    def _obj_source(self, box_id, inlet, msg, args):
        pass  # sources (loadbang, udpreceive, MIDI in) are driven by the test, not by inlets

    # --- UI objects ----------------------------------------------------------------------------

    def _ui_message(self, box_id, inlet, msg):
        if inlet == 1 or msg[:1] == ["set"]:  # new content, kept as atoms (a symbol may hold spaces)
            self.state[box_id]["atoms"] = msg[1:] if msg[:1] == ["set"] else msg
            return
        if "atoms" in self.state[box_id]:
            return self.out(box_id, 0, self.state[box_id]["atoms"])
        text = self.boxes[box_id].get("text", "")
        assert "," not in text and ";" not in text, f"message box {text!r}: commas/semicolons are not simulated"
        args = [] if msg == ["bang"] else msg
        filled = re.sub(r"\$(\d)", lambda m: str(args[int(m.group(1)) - 1]), text)
        if filled:
            self.out(box_id, 0, atoms(filled))

    def _ui_toggle(self, box_id, inlet, msg):
        if msg[:1] == ["set"]:
            return
        value = 1 - self.state[box_id].get("value", 0) if msg == ["bang"] else int(msg[0] != 0)
        self.state[box_id]["value"] = value
        self.out(box_id, 0, [value])

    def _ui_button(self, box_id, inlet, msg):
        self.out(box_id, 0, ["bang"])

    def _number(self, box_id, msg, kind):
        if msg[:1] == ["set"] or msg == ["bang"]:
            return
        box = self.boxes[box_id]
        value = kind(msg[0])
        value = max(value, box.get("minimum", value))
        value = min(value, box.get("maximum", value))
        self.out(box_id, 0, [kind(value)])

    def _ui_number(self, box_id, inlet, msg):
        self._number(box_id, msg, int)

    def _ui_flonum(self, box_id, inlet, msg):
        self._number(box_id, msg, float)

    def _ui_slider(self, box_id, inlet, msg):
        if msg[:1] == ["set"]:
            return
        lo, hi = slider_range(self.boxes[box_id])
        value = min(max(msg[0], lo), hi)
        self.out(box_id, 0, [float(value) if self.boxes[box_id].get("floatoutput") else int(value)])

    def _ui_multislider(self, box_id, inlet, msg):
        if msg[:1] == ["set"]:
            return
        lo, hi = self.boxes[box_id].get("setminmax", [0.0, 1.0])
        self.out(box_id, 0, [min(max(float(v), lo), hi) for v in msg])

    def _ui_umenu(self, box_id, inlet, msg):
        items = self.state[box_id].setdefault("items", [])
        if msg == ["clear"]:
            items.clear()
        elif msg[:1] == ["append"]:
            items.append(" ".join(str(a) for a in msg[1:]))
        elif msg[:1] != ["set"] and is_number(msg[0]) and 0 <= int(msg[0]) < len(items):
            index = int(msg[0])
            self.out(box_id, 1, [items[index]])
            self.out(box_id, 0, [index])

    def _ui_kslider(self, box_id, inlet, msg):
        if inlet == 1:
            self.state[box_id]["velocity"] = int(msg[0])
        else:
            self.play(box_id, int(msg[0]), self.state[box_id].get("velocity", 64))

    def _ui_comment(self, box_id, inlet, msg):
        pass

    # --- what a performer does ------------------------------------------------------------------

    def play(self, kslider: str, note: int, velocity: int) -> None:
        self.out(kslider, 1, [velocity])
        self.out(kslider, 0, [note])

    def pad(self, pictslider: str, x: int, y: int) -> None:
        self.out(pictslider, 1, [y])
        self.out(pictslider, 0, [x])

    def reply(self, address: str, *args) -> None:
        """A server reply as udpreceive outputs it: the OSC address becomes the selector."""
        for rx in self.ids("newobj", "udpreceive"):
            self.out(rx, 0, [address, *args])


OBJ_NAMES = {
    "+": "arith",
    "-": "arith",
    "/": "arith",
    ">": "arith",
    "loadbang": "source",
    "loadmess": "source",
    "udpreceive": "source",
    "notein": "source",
    "ctlin": "source",
    "bendin": "source",
    "touchin": "source",
    "pgmin": "source",
}


def slider_range(box: dict) -> tuple[float, float]:
    lo = box.get("min", 0)
    size = box.get("size", 128)
    return (lo, lo + size) if box.get("floatoutput") else (lo, lo + size - 1)


@pytest.fixture(scope="module")
def replies(real_engine, tmp_path_factory) -> list[Msg]:
    """What the real server answers to the patch's opening queries and to a refused message."""
    folder = tmp_path_factory.mktemp("osc")
    wanted = {"/model/info/timbres", "/status/reply", "/error"}
    with (
        OscServer(real_engine, port=0, presets_dir=folder / "p", bundles_dir=folder / "b") as server,
        SimpleUDPClient("127.0.0.1", server.port) as client,
    ):
        for address, args in (("/model/info", []), ("/status", []), ("/timbre", ["no-such-timbre"])):
            client.send_message(address, args)
        received: list[Msg] = []
        deadline = time.monotonic() + WAIT_S
        while not wanted <= {r[0] for r in received} and time.monotonic() < deadline:
            data = client.receive(timeout=max(0.01, deadline - time.monotonic()))
            if data:
                message = OscMessage(data)
                received.append([message.address, *message.params])
    assert wanted <= {r[0] for r in received}, f"the server did not answer: {received}"
    return received


def reply_args(replies: list[Msg], address: str) -> Msg:
    return next(r[1:] for r in replies if r[0] == address)


def perform(sim: MaxSim, replies: list[Msg]) -> None:
    """Open the patch, receive the server's replies, then touch every control at its extremes,
    once with every toggle off and once with every toggle on (modes such as one-shot)."""
    sim.load()
    for reply in replies:
        sim.reply(*reply)
    for toggles in (0, 1):
        for toggle in sim.ids("toggle"):
            sim.receive(toggle, 0, [toggles])
        for box_id in list(sim.boxes):
            for action in interactions(sim, box_id):
                action(sim, box_id)


def interactions(sim: MaxSim, box_id: str) -> list:
    box = sim.boxes[box_id]
    kind = box["maxclass"]
    if kind == "kslider":
        first, keys = box.get("offset", 36), box.get("range", 48)
        notes = (first, first + keys // 2, first + keys - 1)
        return [lambda s, i, n=n, v=v: (s.play(i, n, v), s.play(i, n, 0)) for n in notes for v in (1, 64, 127)]
    if kind == "pictslider":
        xs = (box.get("leftvalue", 0), box.get("rightvalue", 127))
        ys = (box.get("topvalue", 0), box.get("bottomvalue", 127))
        points = [(x, y) for x in xs for y in ys] + [((xs[0] + xs[1]) // 2, (ys[0] + ys[1]) // 2)]
        return [lambda s, i, p=p: s.pad(i, *p) for p in points]
    if kind == "slider":
        lo, hi = slider_range(box)
        return [lambda s, i, v=v: s.receive(i, 0, [v]) for v in (lo, (lo + hi) / 2, hi)]
    if kind == "multislider":
        lo, hi = box.get("setminmax", [0.0, 1.0])
        n = box.get("size", 1)
        lists = [[lo] * n, [hi] * n, [lo + (hi - lo) * k / max(n - 1, 1) for k in range(n)]]
        return [lambda s, i, v=v: s.receive(i, 0, v) for v in lists]
    if kind in ("number", "flonum"):
        values = [box[k] for k in ("minimum", "maximum") if k in box] or [0, 1]
        return [lambda s, i, v=v: s.receive(i, 0, [v]) for v in values]
    if kind == "button":
        return [lambda s, i: s.receive(i, 0, ["bang"])]
    if kind == "umenu":
        return [lambda s, i, k=k: s.receive(i, 0, [k]) for k in range(len(sim.state[box_id].get("items", [])))]
    if kind == "message" and not box.get("text", "").startswith("set"):
        return [lambda s, i: s.receive(i, 0, ["bang"])]  # a performer clicks it
    if kind == "newobj":
        return midi_input(box["text"])
    return []


def midi_input(text: str) -> list:
    """MIDI in at its extremes; outlets fire right to left like Max's."""
    cls = text.split()[0]
    if cls == "notein":
        notes = [(n, v) for n in (0, 60, 127) for v in (1, 100, 127, 0)]
        return [lambda s, i, n=n, v=v: (s.out(i, 2, [1]), s.out(i, 1, [v]), s.out(i, 0, [n])) for n, v in notes]
    if cls in ("ctlin", "bendin", "touchin"):
        return [lambda s, i, v=v: (s.out(i, 1, [1]), s.out(i, 0, [v])) for v in (0, 64, 127)]
    if cls == "pgmin":
        return [lambda s, i, v=v: (s.out(i, 1, [1]), s.out(i, 0, [v])) for v in (1, 128)]
    return []


def load(name: str) -> dict:
    return json.loads((PATCH_DIR / name).read_text())


def performed(name: str, replies: list[Msg]) -> MaxSim:
    sim = MaxSim(load(name))
    perform(sim, replies)
    return sim


def wire_bytes(msg: Msg) -> bytes:
    """The datagram udpsend makes of a Max message: the selector is the address."""
    builder = OscMessageBuilder(msg[0])
    for value in msg[1:]:
        builder.add_arg(value)
    return builder.build().dgram


def refusal(msg: Msg) -> str | None:
    """Why the server would refuse this message (None if it accepts it)."""
    if not msg or not isinstance(msg[0], str) or not msg[0].startswith("/"):
        return f"not an OSC message (no address): {msg}"
    parsed = parse_message(wire_bytes(msg))
    try:
        DISPATCHER.build(parsed.address, parsed.params)
    except OscInputError as err:
        return str(err)
    return None


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PATCHES)
def test_patch_has_the_structure_max_expects(name):
    patcher = load(name)["patcher"]
    assert patcher["fileversion"] == 1
    assert patcher["appversion"]["major"] >= 8
    assert len(patcher["rect"]) == 4
    assert patcher["openinpresentation"] == 1, "performers open it in presentation mode"
    ids = [b["box"]["id"] for b in patcher["boxes"]]
    assert len(ids) == len(set(ids)), "box ids must be unique"
    for entry in patcher["boxes"]:
        box = entry["box"]
        assert {"id", "maxclass", "numinlets", "numoutlets", "patching_rect"} <= set(box), box
        assert len(box["patching_rect"]) == 4 and all(is_number(v) for v in box["patching_rect"])
        assert len(box.get("outlettype", [])) == box["numoutlets"], box
        if box["maxclass"] in ("newobj", "message", "comment"):
            assert isinstance(box.get("text"), str), box
        if box.get("presentation"):
            rect = box.get("presentation_rect")
            assert rect and len(rect) == 4 and rect[2] > 0 and rect[3] > 0, box


@pytest.mark.parametrize("name", PATCHES)
def test_presentation_shows_every_control(name):
    """Every control a performer touches is in the presentation view, inside the window."""
    patcher = load(name)["patcher"]
    width, height = patcher["rect"][2:]
    controls = [
        b["box"]
        for b in patcher["boxes"]
        if b["box"]["maxclass"]
        in ("kslider", "pictslider", "slider", "multislider", "toggle", "button", "umenu", "flonum", "number")
        and not b["box"].get("text")
    ]
    assert controls
    for box in controls:
        assert box.get("presentation") == 1, f"{box['id']} ({box['maxclass']}) is hidden from the performer"
        x, y, w, h = box["presentation_rect"]
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, f"{box['id']} lies outside the window"


@pytest.mark.parametrize("name", PATCHES)
def test_object_boxes_declare_the_inlets_and_outlets_max_gives_them(name):
    for entry in load(name)["patcher"]["boxes"]:
        box = entry["box"]
        assert (box["numinlets"], box["numoutlets"]) == box_io(box), box.get("text", box["maxclass"])


@pytest.mark.parametrize("name", PATCHES)
def test_every_patchline_joins_existing_boxes_and_outlets(name):
    patcher = load(name)["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    assert patcher["lines"]
    for entry in patcher["lines"]:
        (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
        assert src in boxes and dst in boxes, entry
        assert 0 <= outlet < boxes[src]["numoutlets"], f"{src} has no outlet {outlet}"
        assert 0 <= inlet < boxes[dst]["numinlets"], f"{dst} has no inlet {inlet}"


@pytest.mark.parametrize("name", PATCHES)
def test_the_patch_talks_to_the_server_port(name):
    texts = [b["box"].get("text", "") for b in load(name)["patcher"]["boxes"]]
    assert [t for t in texts if t.startswith("udpsend")] == ["udpsend 127.0.0.1 9000"]


@pytest.mark.parametrize("name", PATCHES)
def test_every_osc_box_names_an_address_the_server_knows(name):
    for entry in load(name)["patcher"]["boxes"]:
        box = entry["box"]
        if osc_building(box):
            address = box["text"].split()[1 if box["maxclass"] == "newobj" else 0]
            DISPATCHER.resolve(address)  # raises UnknownAddress with a suggestion


# --- behaviour: what reaches udpsend ---------------------------------------------------------------


@pytest.mark.parametrize("name", PATCHES)
def test_everything_the_patch_sends_is_accepted_by_the_dispatcher(name, replies):
    sim = performed(name, replies)
    assert sim.sent
    refused = [(sender, msg, why) for sender, msg in sim.sent if (why := refusal(msg))]
    assert not refused, "\n".join(f"{s}: {m} -> {w}" for s, m, w in refused[:10])


@pytest.mark.parametrize("name", PATCHES)
def test_every_osc_box_was_exercised(name, replies):
    """So each box above was checked with representative values, not just its address."""
    sim = performed(name, replies)
    silent = [b.get("text") for i, b in sim.boxes.items() if osc_building(b) and not sim.emitted[i]]
    assert not silent, f"never sent anything: {silent}"


def sent_addresses(sim: MaxSim) -> set[str]:
    return {msg[0] for _, msg in sim.sent}


def test_main_patch_covers_the_performance_controls(replies):
    required = {
        "/note/on",
        "/note/off",
        "/note",
        "/timbre",
        "/morph/a",
        "/morph/b",
        "/morph/c",
        "/morph/d",
        "/morph/xy",
        "/morph/x",
        "/morph/time",
        "/latent/timbre",
        "/latent/reset",
        "/sustain",
        "/panic",
        "/gain",
        "/model/info",
        "/status",
    }
    assert required <= sent_addresses(performed("rtsynth.maxpat", replies))


def test_midi_patch_forwards_keys_controllers_bend_and_programs(replies):
    required = {"/note/on", "/note/off", "/sustain", "/morph/x", "/gain", "/bend", "/vibrato", "/timbre", "/panic"}
    assert required <= sent_addresses(performed("rtsynth-midi.maxpat", replies))


def fresh(name: str) -> MaxSim:
    sim = MaxSim(load(name))
    sim.load()
    sim.sent.clear()
    return sim


def test_keyboard_sends_note_on_with_velocity_then_note_off():
    sim = fresh("rtsynth.maxpat")
    (keys,) = sim.ids("kslider")
    sim.play(keys, 60, 100)
    sim.play(keys, 60, 0)
    assert [m for _, m in sim.sent] == [["/note/on", 60, 100], ["/note/off", 60]]


def test_one_shot_mode_sends_note_with_the_duration_box():
    sim = fresh("rtsynth.maxpat")
    (keys,) = sim.ids("kslider")
    (duration,) = [i for i in sim.ids("flonum") if "duration" in sim.boxes[i]["hint"]]
    (oneshot,) = [i for i in sim.ids("toggle") if "one-shot" in sim.boxes[i]["hint"]]
    sim.receive(oneshot, 0, [1])
    sim.receive(duration, 0, [2.5])
    sim.play(keys, 64, 90)
    sim.play(keys, 64, 0)  # harmless: one-shot notes ignore /note/off
    assert [m for _, m in sim.sent] == [["/note", 64, 90, 2.5], ["/note/off", 64]]
    assert refusal(sim.sent[0][1]) is None


def test_opening_the_patch_asks_for_the_model_and_status():
    sim = MaxSim(load("rtsynth.maxpat"))
    sim.load()
    assert [m for _, m in sim.sent] == [["/reply/port", 9001], ["/model/info"], ["/status"]]


def test_model_info_reply_fills_the_timbre_menus_and_selection_sends_the_index(replies):
    timbres = reply_args(replies, "/model/info/timbres")
    sim = fresh("rtsynth.maxpat")
    sim.reply("/model/info/timbres", *timbres)
    sim.reply("/model/info/timbres", *timbres)  # a second reply replaces, not appends
    menus = sim.ids("umenu")
    assert len(menus) == 5
    assert all(sim.state[m]["items"] == timbres for m in menus)
    last = len(timbres) - 1
    for menu in menus:
        sim.receive(menu, 0, [last])
    assert sorted(m[0] for _, m in sim.sent) == ["/morph/a", "/morph/b", "/morph/c", "/morph/d", "/timbre"]
    assert all(m[1:] == [last] for _, m in sim.sent)


def test_status_reply_and_errors_are_displayed(replies):
    status = reply_args(replies, "/status/reply")
    sim = fresh("rtsynth.maxpat")
    sim.reply("/status/reply", *status)
    sim.reply(*next(r for r in replies if r[0] == "/error"))
    shown = {sim.boxes[i]["hint"]: sim.emitted[i] for i in sim.ids("number") + sim.ids("flonum")}
    assert all(shown[f"server {key}"] == 1 for key in ("voices", "cpu", "xruns", "latency ms")), shown
    texts = [sim.text(i) for i in sim.ids("message") if "hint" in sim.boxes[i]]
    model = status[status.index("model") + 1]
    assert model in texts
    assert any(t.startswith("/timbre ") and "no-such-timbre" in t for t in texts), texts


def test_morph_pad_corners_map_to_the_unit_square():
    sim = fresh("rtsynth.maxpat")
    (pad,) = sim.ids("pictslider")
    box = sim.boxes[pad]
    sim.pad(pad, box["leftvalue"], box["topvalue"])
    sim.pad(pad, box["rightvalue"], box["bottomvalue"])
    assert [m for _, m in sim.sent] == [["/morph/xy", 0.0, 0.0], ["/morph/xy", 1.0, 1.0]]


def test_midi_pressure_sends_a_vibrato_up_to_40_cents():
    sim = fresh("rtsynth-midi.maxpat")
    (touchin,) = sim.ids("newobj", "touchin")
    for value in (0, 127):
        sim.out(touchin, 0, [value])
    assert [m for _, m in sim.sent] == [["/vibrato", 0.0], ["/vibrato", 40.0]]


def test_midi_keyboard_release_and_bend():
    sim = fresh("rtsynth-midi.maxpat")
    (notein,) = sim.ids("newobj", "notein")
    (bendin,) = sim.ids("newobj", "bendin")
    for velocity in (100, 0):
        sim.out(notein, 2, [1])
        sim.out(notein, 1, [velocity])
        sim.out(notein, 0, [62])
    for value in (0, 64):
        sim.out(bendin, 0, [value])
    assert [m for _, m in sim.sent] == [["/note/on", 62, 100], ["/note/off", 62], ["/bend", -2.0], ["/bend", 0.0]]
