# Packer provisioners that bake canary-bootstrap into an image (Debian/Ubuntu base).
# Put them inside your `build` block. Files next to the template:
#   canary-bootstrap.deb   built with `cargo xtask assets && cargo deb`
#   canary-bootstrap.toml  your settings (see /etc/canary-bootstrap/config.toml)
#   factory_auth           the factory auth string; keep it out of version control
# Installing enables the unit for the next boot and does not run it, so the image carries
# the factory auth but no token; each instance gets its own token on its first boot.

provisioner "file" {
  sources     = ["canary-bootstrap.deb", "canary-bootstrap.toml", "factory_auth"]
  destination = "/tmp/"
}

provisioner "shell" {
  execute_command = "sudo sh -c '{{ .Vars }} {{ .Path }}'"
  inline = [
    "set -eu",
    "apt-get install -y /tmp/canary-bootstrap.deb",
    "install -m 0644 -o root -g root /tmp/canary-bootstrap.toml /etc/canary-bootstrap/config.toml",
    # Root-only: the agent refuses a secret file that group or others can read.
    "install -m 0600 -o root -g root /tmp/factory_auth /etc/canary-bootstrap/factory_auth",
    "rm -f /tmp/canary-bootstrap.deb /tmp/canary-bootstrap.toml /tmp/factory_auth",
  ]
}

# ... the rest of your provisioners ...

# Last, just before the image is captured: remove any marker and any profile the agent
# planted (for example if the build VM was rebooted and the unit ran), so no token is
# baked in.
provisioner "shell" {
  execute_command = "sudo sh -c '{{ .Vars }} {{ .Path }}'"
  inline          = ["canary-bootstrap prepare-image"]
}
