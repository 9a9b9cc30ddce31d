# %systemd_post, written out: on the first install only ($1 = 1), enable the unit as the
# presets say. Never start it: a run during an image build would bake a token into the
# image.
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload preset canary-bootstrap.service >/dev/null 2>&1 || :
fi
