"""Software inventory across the fleet: titles, versions and the devices that have them."""
