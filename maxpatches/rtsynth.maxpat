{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 5,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   80.0,
   80.0,
   900.0,
   600.0
  ],
  "bglocked": 0,
  "openinpresentation": 1,
  "default_fontsize": 12.0,
  "default_fontface": 0,
  "default_fontname": "Arial",
  "gridonopen": 1,
  "gridsize": [
   15.0,
   15.0
  ],
  "gridsnaponopen": 1,
  "objectsnaponopen": 1,
  "statusbarvisible": 2,
  "toolbarvisible": 1,
  "lefttoolbarpinned": 0,
  "toptoolbarpinned": 0,
  "righttoolbarpinned": 0,
  "bottomtoolbarpinned": 0,
  "toolbars_unpinned_last_save": 0,
  "tallnewobj": 0,
  "boxanimatetime": 200,
  "enablehscroll": 1,
  "enablevscroll": 1,
  "devicewidth": 0.0,
  "description": "",
  "digest": "",
  "tags": "",
  "style": "",
  "subpatcher_template": "",
  "assistshowspatchername": 0,
  "boxes": [
   {
    "box": {
     "maxclass": "newobj",
     "text": "udpsend 127.0.0.1 9000",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      560.0,
      760.0,
      170.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "hint": "every message to the server leaves here",
     "id": "obj-1"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      700.0,
      760.0,
      346.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "to the server: OSC over UDP, 127.0.0.1 port 9000",
     "id": "obj-2"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      10.0,
      332.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 16.0,
     "text": "rtsynth: a live morphing synth driven over OSC",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      8.0,
      420.0,
      24.0
     ],
     "id": "obj-3"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      34.0,
      560.0,
      48.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "Start the server first:  rtsynth serve  (listens on 127.0.0.1:9000).\nPress 'connect' (or reopen the patch) to fetch the timbres and start the status display.\nReplies (timbre menus, status) are read by udpreceive 9001: see maxpatches/README.md.",
     "linecount": 3,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      32.0,
      560.0,
      48.0
     ],
     "id": "obj-4"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      90.0,
      59.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "connect",
     "fontface": 1,
     "id": "obj-5"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "loadbang",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      112.0,
      72.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "bang"
     ],
     "id": "obj-6"
    }
   },
   {
    "box": {
     "maxclass": "button",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      90.0,
      112.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "bang"
     ],
     "parameter_enable": 0,
     "hint": "ask the server for timbres and status",
     "presentation": 1,
     "presentation_rect": [
      580.0,
      40.0,
      24.0,
      24.0
     ],
     "id": "obj-7"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      118.0,
      114.0,
      59.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "connect",
     "presentation": 1,
     "presentation_rect": [
      606.0,
      42.0,
      70.0,
      20.0
     ],
     "id": "obj-8"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "t b b b",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      150.0,
      65.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "bang",
      "bang",
      "bang"
     ],
     "id": "obj-9"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      190.0,
      91.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "/model/info",
     "id": "obj-10"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      250.0,
      190.0,
      30.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "1",
     "id": "obj-11"
    }
   },
   {
    "box": {
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      250.0,
      230.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "int"
     ],
     "parameter_enable": 0,
     "hint": "ask for /status twice a second",
     "presentation": 1,
     "presentation_rect": [
      690.0,
      40.0,
      24.0,
      24.0
     ],
     "id": "obj-12"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      278.0,
      232.0,
      87.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "status poll",
     "presentation": 1,
     "presentation_rect": [
      716.0,
      42.0,
      90.0,
      20.0
     ],
     "id": "obj-13"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "metro 500",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      250.0,
      270.0,
      79.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "bang"
     ],
     "id": "obj-14"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      250.0,
      305.0,
      63.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "/status",
     "id": "obj-15"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      340.0,
      90.0,
      520.0,
      34.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "keyboard: click = /note/on with velocity (height of the click), release = /note/off;\nin one-shot mode a click sends /note with the duration below (the duration latent)",
     "linecount": 2,
     "id": "obj-16"
    }
   },
   {
    "box": {
     "maxclass": "kslider",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      340.0,
      130.0,
      500.0,
      60.0
     ],
     "outlettype": [
      "int",
      "int"
     ],
     "parameter_enable": 0,
     "offset": 36,
     "range": 61,
     "mode": 2,
     "hint": "click: note on (velocity from the click height), release: note off",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      452.0,
      870.0,
      80.0
     ],
     "id": "obj-17"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "pack 0 0",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      340.0,
      210.0,
      72.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-18"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "zl rev",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      340.0,
      245.0,
      58.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-19"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "route 0",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      340.0,
      280.0,
      65.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-20"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      420.0,
      280.0,
      150.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "velocity 0 = release",
     "id": "obj-21"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "zl rev",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      420.0,
      315.0,
      58.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-22"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /note/off",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      340.0,
      420.0,
      135.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-23"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "gate 2 1",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      420.0,
      385.0,
      72.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-24"
    }
   },
   {
    "box": {
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      600.0,
      315.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "int"
     ],
     "parameter_enable": 0,
     "hint": "one-shot: each click plays a /note of the set duration",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      420.0,
      24.0,
      24.0
     ],
     "id": "obj-25"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      628.0,
      317.0,
      66.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "one-shot",
     "presentation": 1,
     "presentation_rect": [
      36.0,
      422.0,
      70.0,
      20.0
     ],
     "id": "obj-26"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "+ 1",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      600.0,
      350.0,
      40.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "int"
     ],
     "id": "obj-27"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /note/on",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      420.0,
      455.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-28"
    }
   },
   {
    "box": {
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      680.0,
      385.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "minimum": 0.01,
     "maximum": 60.0,
     "format": 6,
     "hint": "duration of one-shot notes, seconds",
     "presentation": 1,
     "presentation_rect": [
      180.0,
      420.0,
      60.0,
      22.0
     ],
     "id": "obj-29"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      744.0,
      387.0,
      94.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "duration (s)",
     "presentation": 1,
     "presentation_rect": [
      106.0,
      422.0,
      74.0,
      20.0
     ],
     "id": "obj-30"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      680.0,
      350.0,
      93.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-31"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "pack 0 0 1.",
     "numinlets": 3,
     "numoutlets": 1,
     "patching_rect": [
      520.0,
      420.0,
      93.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-32"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /note",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      520.0,
      455.0,
      107.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-33"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      880.0,
      90.0,
      87.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "performance",
     "fontface": 1,
     "id": "obj-34"
    }
   },
   {
    "box": {
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      880.0,
      120.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "int"
     ],
     "parameter_enable": 0,
     "hint": "sustain pedal",
     "presentation": 1,
     "presentation_rect": [
      260.0,
      420.0,
      24.0,
      24.0
     ],
     "id": "obj-35"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      908.0,
      122.0,
      59.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "sustain",
     "presentation": 1,
     "presentation_rect": [
      286.0,
      422.0,
      60.0,
      20.0
     ],
     "id": "obj-36"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /sustain",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      880.0,
      160.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-37"
    }
   },
   {
    "box": {
     "maxclass": "button",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      880.0,
      200.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "bang"
     ],
     "parameter_enable": 0,
     "hint": "silence every voice now",
     "presentation": 1,
     "presentation_rect": [
      360.0,
      420.0,
      24.0,
      24.0
     ],
     "id": "obj-38"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      908.0,
      202.0,
      45.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "panic",
     "presentation": 1,
     "presentation_rect": [
      386.0,
      422.0,
      50.0,
      20.0
     ],
     "id": "obj-39"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      880.0,
      235.0,
      56.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "/panic",
     "id": "obj-40"
    }
   },
   {
    "box": {
     "maxclass": "slider",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      980.0,
      120.0,
      20.0,
      120.0
     ],
     "outlettype": [
      ""
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 2.0,
     "min": 0.0,
     "hint": "master gain, 0 to 2 (1 = unity)",
     "presentation": 1,
     "presentation_rect": [
      850.0,
      120.0,
      20.0,
      150.0
     ],
     "id": "obj-41"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      1004.0,
      122.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "gain",
     "presentation": 1,
     "presentation_rect": [
      842.0,
      272.0,
      40.0,
      20.0
     ],
     "id": "obj-42"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "loadmess set 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      1010.0,
      90.0,
      121.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-43"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /gain",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      980.0,
      250.0,
      107.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-44"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      350.0,
      300.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "timbre and morph corners: the menus fill from the server's /model/info reply",
     "id": "obj-45"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      378.0,
      52.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "timbre",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      100.0,
      200.0,
      20.0
     ],
     "id": "obj-46"
    }
   },
   {
    "box": {
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      400.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "items": [],
     "hint": "choose the timbre cluster",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      120.0,
      200.0,
      22.0
     ],
     "id": "obj-47"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /timbre",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      400.0,
      121.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-48"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      448.0,
      143.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "corner a (top-left)",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      170.0,
      200.0,
      20.0
     ],
     "id": "obj-49"
    }
   },
   {
    "box": {
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      470.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "items": [],
     "hint": "choose the corner a (top-left) cluster",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      190.0,
      200.0,
      22.0
     ],
     "id": "obj-50"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/a",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      470.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-51"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      518.0,
      150.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "corner b (top-right)",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      214.0,
      200.0,
      20.0
     ],
     "id": "obj-52"
    }
   },
   {
    "box": {
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      540.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "items": [],
     "hint": "choose the corner b (top-right) cluster",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      234.0,
      200.0,
      22.0
     ],
     "id": "obj-53"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/b",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      540.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-54"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      588.0,
      164.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "corner c (bottom-left)",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      258.0,
      200.0,
      20.0
     ],
     "id": "obj-55"
    }
   },
   {
    "box": {
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      610.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "items": [],
     "hint": "choose the corner c (bottom-left) cluster",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      278.0,
      200.0,
      22.0
     ],
     "id": "obj-56"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/c",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      610.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-57"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      658.0,
      171.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "corner d (bottom-right)",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      302.0,
      200.0,
      20.0
     ],
     "id": "obj-58"
    }
   },
   {
    "box": {
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      680.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "items": [],
     "hint": "choose the corner d (bottom-right) cluster",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      322.0,
      200.0,
      22.0
     ],
     "id": "obj-59"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/d",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      680.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-60"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      340.0,
      520.0,
      430.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "morph: pad = four-corner /morph/xy, slider = two-cluster /morph/x (a to b)",
     "id": "obj-61"
    }
   },
   {
    "box": {
     "maxclass": "pictslider",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      340.0,
      550.0,
      160.0,
      160.0
     ],
     "outlettype": [
      "int",
      "int"
     ],
     "parameter_enable": 0,
     "leftvalue": 0,
     "rightvalue": 100,
     "topvalue": 0,
     "bottomvalue": 100,
     "hint": "drag: morph between the four corner timbres",
     "presentation": 1,
     "presentation_rect": [
      230.0,
      120.0,
      220.0,
      220.0
     ],
     "id": "obj-62"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      510.0,
      550.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "a",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      230.0,
      100.0,
      18.0,
      20.0
     ],
     "id": "obj-63"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      510.0,
      570.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "b",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      432.0,
      100.0,
      18.0,
      20.0
     ],
     "id": "obj-64"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      510.0,
      590.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "c",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      230.0,
      342.0,
      18.0,
      20.0
     ],
     "id": "obj-65"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      510.0,
      610.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "d",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      432.0,
      342.0,
      18.0,
      20.0
     ],
     "id": "obj-66"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "/ 100.",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      340.0,
      720.0,
      58.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "float"
     ],
     "id": "obj-67"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "/ 100.",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      420.0,
      720.0,
      58.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "float"
     ],
     "id": "obj-68"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "pack 0. 0.",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      340.0,
      755.0,
      86.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-69"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/xy",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      340.0,
      790.0,
      135.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-70"
    }
   },
   {
    "box": {
     "maxclass": "slider",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      540.0,
      560.0,
      160.0,
      20.0
     ],
     "outlettype": [
      ""
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 1.0,
     "min": 0.0,
     "hint": "two-cluster morph: left = corner a, right = corner b",
     "presentation": 1,
     "presentation_rect": [
      230.0,
      390.0,
      220.0,
      20.0
     ],
     "id": "obj-71"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      704.0,
      560.0,
      185.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "two-cluster morph: a to b",
     "presentation": 1,
     "presentation_rect": [
      230.0,
      368.0,
      220.0,
      20.0
     ],
     "id": "obj-72"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/x",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      540.0,
      600.0,
      128.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-73"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      620.0,
      640.0,
      115.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "morph time (ms)",
     "presentation": 1,
     "presentation_rect": [
      560.0,
      277.0,
      110.0,
      20.0
     ],
     "id": "obj-74"
    }
   },
   {
    "box": {
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      540.0,
      640.0,
      70.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "minimum": 0.0,
     "maximum": 10000.0,
     "format": 6,
     "hint": "ramp time of every timbre move, ms",
     "presentation": 1,
     "presentation_rect": [
      670.0,
      275.0,
      70.0,
      22.0
     ],
     "id": "obj-75"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /morph/time",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      540.0,
      675.0,
      149.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-76"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      880.0,
      300.0,
      300.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "timbre latent offsets: 8 sliders, -3 to 3 (standard deviations of the prior)",
     "id": "obj-77"
    }
   },
   {
    "box": {
     "maxclass": "multislider",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      880.0,
      340.0,
      200.0,
      110.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "parameter_enable": 0,
     "size": 8,
     "setminmax": [
      -3.0,
      3.0
     ],
     "settype": 1,
     "setstyle": 1,
     "hint": "offsets added to the 8 timbre latent dimensions",
     "presentation": 1,
     "presentation_rect": [
      470.0,
      120.0,
      360.0,
      150.0
     ],
     "id": "obj-78"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      880.0,
      318.0,
      164.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "timbre latent (8 dims)",
     "fontface": 1,
     "presentation": 1,
     "presentation_rect": [
      470.0,
      100.0,
      200.0,
      20.0
     ],
     "id": "obj-79"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend /latent/timbre",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      880.0,
      460.0,
      170.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-80"
    }
   },
   {
    "box": {
     "maxclass": "button",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      1100.0,
      340.0,
      24.0,
      24.0
     ],
     "outlettype": [
      "bang"
     ],
     "parameter_enable": 0,
     "hint": "all latent offsets back to 0",
     "presentation": 1,
     "presentation_rect": [
      470.0,
      275.0,
      24.0,
      24.0
     ],
     "id": "obj-81"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      1128.0,
      342.0,
      45.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "reset",
     "presentation": 1,
     "presentation_rect": [
      496.0,
      277.0,
      50.0,
      20.0
     ],
     "id": "obj-82"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "t b b",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      1100.0,
      380.0,
      51.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "bang",
      "bang"
     ],
     "id": "obj-83"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      1100.0,
      460.0,
      105.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "/latent/reset",
     "id": "obj-84"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      1170.0,
      420.0,
      147.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "set 0 0 0 0 0 0 0 0",
     "id": "obj-85"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      760.0,
      171.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "replies from the server",
     "fontface": 1,
     "id": "obj-86"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "udpreceive 9001",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      790.0,
      121.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-87"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "route /model/info/timbres /status/reply /error",
     "numinlets": 4,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      825.0,
      338.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      "",
      "",
      ""
     ],
     "id": "obj-88"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "t l b",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      860.0,
      51.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      "bang"
     ],
     "id": "obj-89"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      90.0,
      895.0,
      49.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "clear",
     "id": "obj-90"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "zl iter 1",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      895.0,
      79.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-91"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend append",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      930.0,
      114.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-92"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "zl iter 2",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      220.0,
      860.0,
      79.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      ""
     ],
     "id": "obj-93"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "route model voices cpu xruns latency_p50_ms",
     "numinlets": 6,
     "numoutlets": 6,
     "patching_rect": [
      220.0,
      895.0,
      317.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "id": "obj-94"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      220.0,
      930.0,
      45.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "model",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      545.0,
      110.0,
      20.0
     ],
     "id": "obj-95"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      960.0,
      93.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-96"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      995.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "",
     "hint": "loaded model",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      565.0,
      110.0,
      22.0
     ],
     "id": "obj-97"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      310.0,
      930.0,
      52.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "voices",
     "presentation": 1,
     "presentation_rect": [
      132.0,
      545.0,
      50.0,
      20.0
     ],
     "id": "obj-98"
    }
   },
   {
    "box": {
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      310.0,
      995.0,
      50.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "format": 0,
     "hint": "server voices",
     "presentation": 1,
     "presentation_rect": [
      132.0,
      565.0,
      50.0,
      22.0
     ],
     "id": "obj-99"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      400.0,
      930.0,
      40.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "cpu",
     "presentation": 1,
     "presentation_rect": [
      194.0,
      545.0,
      60.0,
      20.0
     ],
     "id": "obj-100"
    }
   },
   {
    "box": {
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      400.0,
      995.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "format": 6,
     "hint": "server cpu",
     "presentation": 1,
     "presentation_rect": [
      194.0,
      565.0,
      60.0,
      22.0
     ],
     "id": "obj-101"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      490.0,
      930.0,
      45.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "xruns",
     "presentation": 1,
     "presentation_rect": [
      266.0,
      545.0,
      50.0,
      20.0
     ],
     "id": "obj-102"
    }
   },
   {
    "box": {
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      490.0,
      995.0,
      50.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "format": 0,
     "hint": "server xruns",
     "presentation": 1,
     "presentation_rect": [
      266.0,
      565.0,
      50.0,
      22.0
     ],
     "id": "obj-103"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      580.0,
      930.0,
      80.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "latency ms",
     "presentation": 1,
     "presentation_rect": [
      328.0,
      545.0,
      70.0,
      20.0
     ],
     "id": "obj-104"
    }
   },
   {
    "box": {
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      580.0,
      995.0,
      70.0,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "parameter_enable": 0,
     "format": 6,
     "hint": "server latency ms",
     "presentation": 1,
     "presentation_rect": [
      328.0,
      565.0,
      70.0,
      22.0
     ],
     "id": "obj-105"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      700.0,
      930.0,
      80.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "last error",
     "presentation": 1,
     "presentation_rect": [
      410.0,
      545.0,
      200.0,
      20.0
     ],
     "id": "obj-106"
    }
   },
   {
    "box": {
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      700.0,
      960.0,
      93.0,
      22.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "outlettype": [
      ""
     ],
     "id": "obj-107"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      700.0,
      995.0,
      300.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "",
     "hint": "the server's last /error reply",
     "presentation": 1,
     "presentation_rect": [
      410.0,
      565.0,
      470.0,
      22.0
     ],
     "id": "obj-108"
    }
   },
   {
    "box": {
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      190.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "/reply/port 9001",
     "id": "obj-200"
    }
   },
   {
    "box": {
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      235.0,
      190.0,
      200.0,
      20.0
     ],
     "fontname": "Arial",
     "fontsize": 12.0,
     "text": "replies to udpreceive 9001",
     "id": "obj-201"
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "destination": [
      "obj-9",
      0
     ],
     "source": [
      "obj-6",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-9",
      0
     ],
     "source": [
      "obj-7",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-10",
      0
     ],
     "source": [
      "obj-9",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-11",
      0
     ],
     "source": [
      "obj-9",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-10",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-12",
      0
     ],
     "source": [
      "obj-11",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-14",
      0
     ],
     "source": [
      "obj-12",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-15",
      0
     ],
     "source": [
      "obj-14",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-15",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-18",
      0
     ],
     "source": [
      "obj-17",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-18",
      1
     ],
     "source": [
      "obj-17",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-19",
      0
     ],
     "source": [
      "obj-18",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-20",
      0
     ],
     "source": [
      "obj-19",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-22",
      0
     ],
     "source": [
      "obj-20",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-23",
      0
     ],
     "source": [
      "obj-20",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-23",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-24",
      1
     ],
     "source": [
      "obj-22",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-27",
      0
     ],
     "source": [
      "obj-25",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-24",
      0
     ],
     "source": [
      "obj-27",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-28",
      0
     ],
     "source": [
      "obj-24",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-28",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-29",
      0
     ],
     "source": [
      "obj-31",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-32",
      0
     ],
     "source": [
      "obj-24",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-32",
      2
     ],
     "source": [
      "obj-29",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-33",
      0
     ],
     "source": [
      "obj-32",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-33",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-37",
      0
     ],
     "source": [
      "obj-35",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-37",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-40",
      0
     ],
     "source": [
      "obj-38",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-40",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-41",
      0
     ],
     "source": [
      "obj-43",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-44",
      0
     ],
     "source": [
      "obj-41",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-44",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-48",
      0
     ],
     "source": [
      "obj-47",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-48",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-51",
      0
     ],
     "source": [
      "obj-50",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-51",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-54",
      0
     ],
     "source": [
      "obj-53",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-54",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-57",
      0
     ],
     "source": [
      "obj-56",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-57",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-60",
      0
     ],
     "source": [
      "obj-59",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-60",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-67",
      0
     ],
     "source": [
      "obj-62",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-68",
      0
     ],
     "source": [
      "obj-62",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-69",
      0
     ],
     "source": [
      "obj-67",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-69",
      1
     ],
     "source": [
      "obj-68",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-70",
      0
     ],
     "source": [
      "obj-69",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-70",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-73",
      0
     ],
     "source": [
      "obj-71",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-73",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-76",
      0
     ],
     "source": [
      "obj-75",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-76",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-80",
      0
     ],
     "source": [
      "obj-78",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-80",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-83",
      0
     ],
     "source": [
      "obj-81",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-84",
      0
     ],
     "source": [
      "obj-83",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-85",
      0
     ],
     "source": [
      "obj-83",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-78",
      0
     ],
     "source": [
      "obj-85",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-1",
      0
     ],
     "source": [
      "obj-84",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-88",
      0
     ],
     "source": [
      "obj-87",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-89",
      0
     ],
     "source": [
      "obj-88",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-90",
      0
     ],
     "source": [
      "obj-89",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-91",
      0
     ],
     "source": [
      "obj-89",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-92",
      0
     ],
     "source": [
      "obj-91",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-47",
      0
     ],
     "source": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-47",
      0
     ],
     "source": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-50",
      0
     ],
     "source": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-50",
      0
     ],
     "source": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-53",
      0
     ],
     "source": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-53",
      0
     ],
     "source": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-56",
      0
     ],
     "source": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-56",
      0
     ],
     "source": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-59",
      0
     ],
     "source": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-59",
      0
     ],
     "source": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-93",
      0
     ],
     "source": [
      "obj-88",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-94",
      0
     ],
     "source": [
      "obj-93",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-96",
      0
     ],
     "source": [
      "obj-94",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-97",
      0
     ],
     "source": [
      "obj-96",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-99",
      0
     ],
     "source": [
      "obj-94",
      1
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-101",
      0
     ],
     "source": [
      "obj-94",
      2
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-103",
      0
     ],
     "source": [
      "obj-94",
      3
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-105",
      0
     ],
     "source": [
      "obj-94",
      4
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-107",
      0
     ],
     "source": [
      "obj-88",
      2
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-108",
      0
     ],
     "source": [
      "obj-107",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      2
     ],
     "destination": [
      "obj-200",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   }
  ],
  "dependency_cache": [],
  "autosave": 0
 }
}