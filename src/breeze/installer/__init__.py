"""Agent installer: the install script and the wheels it installs."""
