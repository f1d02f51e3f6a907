#!/bin/sh
# Makes the sigrok fixtures in this folder with the real tool: sigrok-cli 0.7.2
# (libsigrok 0.5.2, Debian 12: apt-get install sigrok-cli), its demo driver.
# PulseView saves and exports through the same libsigrok output modules
# (pulseview pv/storesession.cpp: output_format->create_output), so its
# .sr and CSV files are these. The demo driver runs in real time: ~25 s.
# The saleae-*.csv files are not made here (see README.md).
set -eu
cd "$(dirname "$0")"
S="sigrok-cli -d demo"

# The issue's command, as it wrote it. libsigrok 0.5.2's CSV writer drops
# packets from a live capture ("output/csv: Expecting 101 samples, got 100"
# on stderr), so of the 20000 samples about half reach the file.
$S --channels D0 -c samplerate=1k --samples 20000 -O csv:time=true > sigrok-1k-time.csv 2>/dev/null

# Microseconds: the time column's unit follows the rate (200 kHz: 5 us steps).
$S --channels D0 -c samplerate=200k --samples 2000 -O csv:time=true > sigrok-200k-time.csv 2>/dev/null

# One 2 s capture of three channels, saved as a session file, then written
# out in every CSV form from that file (reading a file loses nothing).
$S --channels D0,D1,D2 -c samplerate=1k --samples 2000 -o demo3.sr
sigrok-cli -i demo3.sr -O csv > demo3.csv                                 # the default: no time column
sigrok-cli -i demo3.sr -O csv:time=true > demo3-time.csv                  # milliseconds,logic,logic,logic
sigrok-cli -i demo3.sr -O csv:time=true:label=channel > demo3-channel.csv  # Time,D0,D1,D2
sigrok-cli -i demo3.sr -O csv:time=true:label=off > demo3-off.csv          # no header row
sigrok-cli -i demo3.sr -O csv:time=true:header=false > demo3-noheader.csv  # no comments
sigrok-cli -i demo3.sr -O csv:time=true:dedup=true > demo3-dedup.csv      # one row per change
# Files that do not say their time scale (no comment, no unit): refused
# unless --samplerate is given.
sigrok-cli -i demo3.sr -O csv:time=true:label=channel:header=false > demo3-channel-noheader.csv
sigrok-cli -i demo3.sr -O csv:header=false:label=off > demo3-bare.csv
