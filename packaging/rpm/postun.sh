# %systemd_postun without the restart: a running systemd reloads its units, but the agent
# is never started by an upgrade (that could issue a token on an image build host).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
