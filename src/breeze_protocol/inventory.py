"""Inventory sections: hardware, operating system, network, disks, users, remote access.

Sizes: ``*_mb`` are mebibytes (2**20 bytes), ``*_gb`` gibibytes (2**30 bytes), ``*_bytes``
exact bytes. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from breeze_protocol._base import Section, WireModel, unit


class HardwareInfo(Section):
    """The machine itself (seed: DeviceHardware)."""

    cpu_model: str | None = Field(None, description="CPU model string, e.g. from /proc/cpuinfo.")
    cpu_cores: int | None = Field(
        None, ge=1, description="Physical CPU cores.", json_schema_extra=unit("count")
    )
    cpu_threads: int | None = Field(
        None,
        ge=1,
        description="Logical CPUs online (os.cpu_count()).",
        json_schema_extra=unit("count"),
    )
    ram_total_mb: int | None = Field(
        None,
        ge=0,
        description="Installed memory seen by the OS (Linux: MemTotal kB // 1024).",
        json_schema_extra=unit("MiB"),
    )
    disk_total_gb: float | None = Field(
        None,
        ge=0,
        description="Sum of the sizes of the physical block devices, 2 decimals.",
        json_schema_extra=unit("GiB"),
    )
    gpu_model: str | None = Field(None, description="First display controller.")
    serial_number: str | None = Field(None, description="System serial number (DMI).")
    manufacturer: str | None = Field(None, description="System manufacturer (DMI sys_vendor).")
    model: str | None = Field(None, description="System model (DMI product_name).")
    bios_version: str | None = Field(None, description="BIOS / firmware version (DMI).")
    bios_vendor: str | None = Field(None, description="BIOS / firmware vendor (DMI).")
    system_uuid: str | None = Field(None, description="SMBIOS system UUID (DMI product_uuid).")
    architecture: str = Field(description="Machine architecture, e.g. x86_64, aarch64.")
    is_virtual: bool | None = Field(
        None, description="True inside a VM or container, False on bare metal, null if unknown."
    )
    virtualization_type: Literal["vm", "container"] | None = Field(
        None, description="Kind of virtualization when is_virtual."
    )
    virtualization_platform: str | None = Field(
        None, description="Platform name, e.g. kvm, vmware, microsoft, docker, lxc."
    )


class OsInfo(Section):
    """Operating system and its clock."""

    os_type: Literal["linux", "windows", "macos", "other"] = Field(description="OS family.")
    name: str = Field(description="Human name, e.g. 'Debian GNU/Linux 12 (bookworm)'.")
    version: str | None = Field(None, description="Version, e.g. '12', '22.04', '10.0.19045'.")
    build: str | None = Field(None, description="Build / point release, e.g. '12.5'.")
    kernel: str = Field(description="Kernel release (platform.release()).")
    kernel_version: str | None = Field(
        None, description="Kernel build string (platform.version())."
    )
    architecture: str = Field(description="Machine architecture, e.g. x86_64.")
    hostname: str = Field(description="Host name as the OS reports it.")
    fqdn: str | None = Field(None, description="Fully qualified name from the resolver.")
    boot_time: AwareDatetime = Field(description="When the OS booted (UTC).")
    uptime_seconds: int = Field(
        ge=0, description="Seconds since boot_time.", json_schema_extra=unit("seconds")
    )
    timezone: str | None = Field(None, description="IANA name, e.g. 'Europe/Paris'.")
    utc_offset_minutes: int = Field(
        description="Current offset of local time from UTC.", json_schema_extra=unit("minutes")
    )
    domain: str | None = Field(None, description="DNS domain of the host.")
    workgroup: str | None = Field(None, description="Windows / Samba workgroup.")


class NetworkAddress(WireModel):
    ip_address: str = Field(description="Address without prefix or zone, e.g. 192.0.2.7.")
    ip_type: Literal["ipv4", "ipv6"] = Field(description="Address family.")
    prefix_length: int | None = Field(
        None, ge=0, le=128, description="Network prefix length.", json_schema_extra=unit("bits")
    )
    scope: str | None = Field(None, description="global, link, host ...")


class NetworkInterface(WireModel):
    """One interface (seed: DeviceNetwork rows are (interface, address) pairs of this)."""

    interface_name: str = Field(description="OS name of the interface, e.g. eth0.")
    mac_address: str | None = Field(None, description="Link-layer address, lower case.")
    link_type: str | None = Field(None, description="ether, loopback, none ...")
    is_up: bool | None = Field(None, description="Administratively up.")
    is_loopback: bool = Field(False, description="Loopback interface.")
    is_primary: bool = Field(False, description="Carries the default route.")
    mtu: int | None = Field(
        None, description="Largest frame payload.", json_schema_extra=unit("bytes")
    )
    addresses: list[NetworkAddress] = Field(
        default_factory=list, description="IPv4 and IPv6 addresses."
    )


class NetworkInfo(Section):
    interfaces: list[NetworkInterface] = Field(default_factory=list, description="All interfaces.")
    default_gateway_ipv4: str | None = Field(None, description="Gateway of the IPv4 default route.")
    default_gateway_ipv6: str | None = Field(None, description="Gateway of the IPv6 default route.")
    primary_interface: str | None = Field(None, description="Interface of the default route.")
    dns_servers: list[str] = Field(default_factory=list, description="Resolvers in use, in order.")
    dns_search: list[str] = Field(default_factory=list, description="DNS search domains.")


class BlockDevice(WireModel):
    """A physical (or virtual) disk, not a partition."""

    name: str = Field(description="Kernel name, e.g. sda, nvme0n1, vda.")
    size_bytes: int = Field(ge=0, description="Capacity.", json_schema_extra=unit("bytes"))
    model: str | None = Field(None, description="Model as the disk reports it.")
    vendor: str | None = Field(None, description="Vendor as the disk (or its bus) reports it.")
    serial_number: str | None = Field(None, description="Disk serial number.")
    rotational: bool | None = Field(None, description="True for spinning disks.")
    removable: bool | None = Field(None, description="Removable media (USB sticks, card readers).")


class Filesystem(WireModel):
    """A mounted filesystem backed by a device."""

    device: str = Field(description="Backing device, e.g. /dev/sda1.")
    mountpoint: str = Field(description="Where it is mounted.")
    fs_type: str = Field(description="ext4, xfs, btrfs, ntfs, apfs ...")
    read_only: bool = Field(description="Mounted read-only.")
    total_bytes: int = Field(
        ge=0, description="Size (statvfs f_blocks).", json_schema_extra=unit("bytes")
    )
    used_bytes: int = Field(
        ge=0, description="Used (blocks - free blocks).", json_schema_extra=unit("bytes")
    )
    free_bytes: int = Field(
        ge=0, description="Available to unprivileged users.", json_schema_extra=unit("bytes")
    )
    percent_used: float = Field(
        ge=0,
        le=100,
        description="used / (used + free), like df.",
        json_schema_extra=unit("percent"),
    )


class DisksInfo(Section):
    block_devices: list[BlockDevice] = Field(default_factory=list, description="Physical disks.")
    filesystems: list[Filesystem] = Field(default_factory=list, description="Mounted filesystems.")


class LoggedInUser(WireModel):
    username: str = Field(description="Login name.")
    terminal: str | None = Field(None, description="tty or pts, e.g. pts/0.")
    host: str | None = Field(None, description="Remote host for remote sessions.")
    started: AwareDatetime | None = Field(None, description="Session start (UTC).")
    pid: int | None = Field(None, description="Session leader process.")


class AdminGroup(WireModel):
    name: str = Field(description="sudo, wheel, admin ...")
    gid: int = Field(description="Group id.")
    members: list[str] = Field(description="Listed members plus users whose primary group it is.")


class UsersInfo(Section):
    logged_in: list[LoggedInUser] = Field(
        default_factory=list, description="Current sessions (utmp)."
    )
    admin_groups: list[AdminGroup] = Field(
        default_factory=list, description="Admin groups present."
    )
    local_admins: list[str] = Field(
        default_factory=list, description="Union of admin group members and uid 0 accounts."
    )
    superuser_accounts: list[str] = Field(default_factory=list, description="Accounts with uid 0.")


class ListeningSocket(WireModel):
    address: str = Field(description="Local address, 0.0.0.0 or :: for all.")
    port: int = Field(ge=0, le=65535, description="Local TCP port.")
    pid: int | None = Field(None, description="Owning process, when visible.")
    process_name: str | None = Field(None, description="Owning process name, when visible.")


class SshPosture(WireModel):
    server_installed: bool = Field(description="An sshd binary exists.")
    server_path: str | None = Field(None, description="Path of the sshd binary.")
    service_enabled: bool | None = Field(
        None, description="ssh/sshd unit (or socket) enabled to start at boot; null if unknown."
    )
    listening: bool = Field(description="Something listens on the SSH port(s).")
    ports: list[int] = Field(default_factory=lambda: [22], description="Ports from sshd_config.")
    listeners: list[ListeningSocket] = Field(default_factory=list, description="Listening sockets.")
    permit_root_login: str | None = Field(None, description="sshd_config PermitRootLogin.")
    password_authentication: str | None = Field(None, description="sshd_config value.")


class RemoteAccessInfo(Section):
    ssh: SshPosture = Field(description="OpenSSH server posture.")
