# %systemd_preun, written out: on the final removal ($1 = 0), disable the unit. No stop:
# the oneshot job is long done.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload disable canary-bootstrap.service >/dev/null 2>&1 || :
fi
