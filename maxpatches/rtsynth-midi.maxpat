{
	"patcher" : {
		"fileversion" : 1,
		"appversion" : {
			"major" : 8,
			"minor" : 5,
			"revision" : 5,
			"architecture" : "x64",
			"modernui" : 1
		},
		"classnamespace" : "box",
		"rect" : [ 100.0, 100.0, 560.0, 210.0 ],
		"bglocked" : 0,
		"openinpresentation" : 1,
		"default_fontsize" : 12.0,
		"default_fontface" : 0,
		"default_fontname" : "Arial",
		"gridonopen" : 1,
		"gridsize" : [ 15.0, 15.0 ],
		"gridsnaponopen" : 1,
		"objectsnaponopen" : 1,
		"statusbarvisible" : 2,
		"toolbarvisible" : 1,
		"lefttoolbarpinned" : 0,
		"toptoolbarpinned" : 0,
		"righttoolbarpinned" : 0,
		"bottomtoolbarpinned" : 0,
		"toolbars_unpinned_last_save" : 0,
		"tallnewobj" : 0,
		"boxanimatetime" : 200,
		"enablehscroll" : 1,
		"enablevscroll" : 1,
		"devicewidth" : 0.0,
		"description" : "",
		"digest" : "",
		"tags" : "",
		"style" : "",
		"subpatcher_template" : "",
		"assistshowspatchername" : 0,
		"boxes" : [
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "udpsend 127.0.0.1 9000",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 520.0, 170.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"id" : "obj-1"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 200.0, 522.0, 206.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "to the server (OSC over UDP)",
					"id" : "obj-2"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 10.0, 381.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 16.0,
					"text" : "rtsynth MIDI: your keyboard through Max to the server",
					"fontface" : 1,
					"presentation" : 1,
					"presentation_rect" : [ 10.0, 8.0, 520.0, 24.0 ],
					"id" : "obj-3"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 36.0, 560.0, 48.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "Listens to every MIDI input. Keys: /note/on and /note/off with velocity; CC64 sustain: /sustain;\nmod wheel (CC1): /morph/x; volume (CC7): /gain; bend: /bend +-2; pressure: /vibrato;\nprogram change: /timbre (program 1 = the first timbre of /model/info).",
					"linecount" : 3,
					"presentation" : 1,
					"presentation_rect" : [ 10.0, 34.0, 540.0, 48.0 ],
					"id" : "obj-4"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 100.0, 40.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "keys",
					"fontface" : 1,
					"id" : "obj-5"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "notein",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 20.0, 125.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int", "int" ],
					"id" : "obj-6"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "pack 0 0",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 160.0, 72.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-7"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "zl rev",
					"numinlets" : 2,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 195.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "", "" ],
					"id" : "obj-8"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "route 0",
					"numinlets" : 2,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 230.0, 65.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "", "" ],
					"id" : "obj-9"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "zl rev",
					"numinlets" : 2,
					"numoutlets" : 2,
					"patching_rect" : [ 100.0, 265.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "", "" ],
					"id" : "obj-10"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /note/off",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 300.0, 135.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-11"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /note/on",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 100.0, 300.0, 128.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-12"
				}
			},
			{
				"box" : {
					"maxclass" : "kslider",
					"numinlets" : 2,
					"numoutlets" : 2,
					"patching_rect" : [ 240.0, 125.0, 300.0, 50.0 ],
					"outlettype" : [ "int", "int" ],
					"parameter_enable" : 0,
					"offset" : 36,
					"range" : 61,
					"mode" : 1,
					"hint" : "shows the keys held on the MIDI keyboard",
					"presentation" : 1,
					"presentation_rect" : [ 10.0, 90.0, 540.0, 70.0 ],
					"id" : "obj-13"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 240.0, 200.0, 108.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "sustain (CC64)",
					"fontface" : 1,
					"id" : "obj-14"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "ctlin 64",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 240.0, 225.0, 72.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-15"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "> 63",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 240.0, 260.0, 44.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int" ],
					"id" : "obj-16"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /sustain",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 240.0, 300.0, 128.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-17"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 380.0, 200.0, 115.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "mod wheel (CC1)",
					"fontface" : 1,
					"id" : "obj-18"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "ctlin 1",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 380.0, 225.0, 65.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-19"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "/ 127.",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 380.0, 260.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "float" ],
					"id" : "obj-20"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /morph/x",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 380.0, 300.0, 128.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-21"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 520.0, 200.0, 94.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "volume (CC7)",
					"fontface" : 1,
					"id" : "obj-22"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "ctlin 7",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 520.0, 225.0, 65.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-23"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "/ 127.",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 520.0, 260.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "float" ],
					"id" : "obj-24"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /gain",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 520.0, 300.0, 107.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-25"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 240.0, 350.0, 80.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "pitch bend",
					"fontface" : 1,
					"id" : "obj-26"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "bendin",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 240.0, 375.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-27"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "- 64",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 240.0, 410.0, 44.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int" ],
					"id" : "obj-28"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "/ 32.",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 240.0, 445.0, 51.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "float" ],
					"id" : "obj-29"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /bend",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 240.0, 480.0, 107.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-30"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 400.0, 350.0, 108.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "program change",
					"fontface" : 1,
					"id" : "obj-31"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "pgmin",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 400.0, 375.0, 51.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-32"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "- 1",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 400.0, 410.0, 40.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int" ],
					"id" : "obj-33"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /timbre",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 400.0, 445.0, 121.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-34"
				}
			},
			{
				"box" : {
					"maxclass" : "button",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 600.0, 375.0, 24.0, 24.0 ],
					"outlettype" : [ "bang" ],
					"parameter_enable" : 0,
					"hint" : "silence every voice now",
					"presentation" : 1,
					"presentation_rect" : [ 10.0, 170.0, 24.0, 24.0 ],
					"id" : "obj-35"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 628.0, 377.0, 45.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "panic",
					"presentation" : 1,
					"presentation_rect" : [ 36.0, 172.0, 60.0, 20.0 ],
					"id" : "obj-36"
				}
			},
			{
				"box" : {
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 600.0, 410.0, 56.0, 22.0 ],
					"outlettype" : [ "" ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "/panic",
					"id" : "obj-37"
				}
			},
			{
				"box" : {
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 700.0, 350.0, 120.0, 20.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"text" : "pressure: vibrato",
					"fontface" : 1,
					"id" : "obj-38"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "touchin",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 700.0, 375.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "int", "int" ],
					"id" : "obj-39"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "/ 3.175",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 700.0, 410.0, 58.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "float" ],
					"id" : "obj-40"
				}
			},
			{
				"box" : {
					"maxclass" : "newobj",
					"text" : "prepend /vibrato",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 700.0, 445.0, 121.0, 22.0 ],
					"fontname" : "Arial",
					"fontsize" : 12.0,
					"outlettype" : [ "" ],
					"id" : "obj-41"
				}
			}
		],
		"lines" : [
			{
				"patchline" : {
					"destination" : [ "obj-7", 0 ],
					"source" : [ "obj-6", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-7", 1 ],
					"source" : [ "obj-6", 1 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-8", 0 ],
					"source" : [ "obj-7", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-9", 0 ],
					"source" : [ "obj-8", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-10", 0 ],
					"source" : [ "obj-9", 1 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-11", 0 ],
					"source" : [ "obj-9", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-12", 0 ],
					"source" : [ "obj-10", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-13", 0 ],
					"source" : [ "obj-6", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-13", 1 ],
					"source" : [ "obj-6", 1 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-16", 0 ],
					"source" : [ "obj-15", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-17", 0 ],
					"source" : [ "obj-16", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-20", 0 ],
					"source" : [ "obj-19", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-21", 0 ],
					"source" : [ "obj-20", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-24", 0 ],
					"source" : [ "obj-23", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-25", 0 ],
					"source" : [ "obj-24", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-28", 0 ],
					"source" : [ "obj-27", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-29", 0 ],
					"source" : [ "obj-28", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-30", 0 ],
					"source" : [ "obj-29", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-33", 0 ],
					"source" : [ "obj-32", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-34", 0 ],
					"source" : [ "obj-33", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-37", 0 ],
					"source" : [ "obj-35", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-11", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-12", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-17", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-21", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-25", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-30", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-34", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-37", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-40", 0 ],
					"source" : [ "obj-39", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-41", 0 ],
					"source" : [ "obj-40", 0 ]
				}
			},
			{
				"patchline" : {
					"destination" : [ "obj-1", 0 ],
					"source" : [ "obj-41", 0 ]
				}
			}
		],
		"dependency_cache" : [ ],
		"autosave" : 0
	}
}
