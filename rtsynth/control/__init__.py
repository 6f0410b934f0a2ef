"""The control layer: OSC and MIDI input turned into engine events, and the OSC reference."""
