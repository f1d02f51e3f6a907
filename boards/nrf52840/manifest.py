# Freeze drawsense into the MicroPython zephyr-port image for this board
# (Raytac MDBT50Q-1MV2 on the product PCB). Frozen manifests on the zephyr
# port are set through Kconfig, not a make variable (docs/nrf52840.md 4):
#
#   west build -b nrf52840dk/nrf52840 ~/micropython/ports/zephyr -- \
#     -DEXTRA_CONF_FILE=/path/to/drawsense/boards/nrf52840/prj.conf \
#     -DEXTRA_DTC_OVERLAY_FILE=/path/to/drawsense/boards/nrf52840/app.overlay
#
# with CONFIG_MICROPY_FROZEN_MODULES=y and CONFIG_MICROPY_FROZEN_MANIFEST set
# to this file in that fragment (prj.conf and app.overlay beside this file,
# from docs/nrf52840.md 4 and 5; not built here).
# The image must carry the advertiser patch board.py describes
# (ZEPHYR_ADV_PATCH); a stock port advertises from a fixed address.
#
# The port's own manifest first, then the app: every firmware module as
# bytecode in flash (aes.py included: the zephyr port has no cryptolib),
# plus this board's definition. main.py stays a 2-line file on the board's
# filesystem (it imports app).
include("$(PORT_DIR)/boards/manifest.py")

include("../_shared/firmware_manifest.py")
module("board.py")
