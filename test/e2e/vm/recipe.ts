/** What goes into the e2e VM. Changing anything here (or the builder) rebuilds the cached artefacts. */

/** The kernel comes from whatever this metapackage points to. */
export const KERNEL_METAPACKAGE = 'linux-image-amd64';

/**
 * Userland packages whose files are extracted into the staging root: the programs and
 * every shared library they load (the build fails naming a library none of them has).
 */
export const PACKAGES = [
  'open-iscsi', 'libisns0', 'libopeniscsiusr', 'busybox-static', 'e2fsprogs',
  'libc6', 'libssl3', 'libmount1', 'libkmod2', 'libsystemd0', 'libblkid1', 'libselinux1', 'libzstd1',
  'liblzma5', 'libcap2', 'libgcrypt20', 'liblz4-1', 'libpcre2-8-0', 'libgpg-error0',
  'libext2fs2', 'libcom-err2', 'libuuid1',
  // sg_xcopy and friends (EXTENDED COPY from a Linux initiator).
  'sg3-utils', 'libsgutils2-1.46-2',
  // dm-multipath (multipath.e2e.ts): multipath, multipathd, dmsetup and their libraries.
  'multipath-tools', 'dmsetup', 'libdevmapper1.02.1', 'libaio1', 'libedit2', 'libbsd0', 'libmd0', 'libtinfo6',
  'libjson-c5', 'liburcu8', 'libudev1', 'libgcc-s1',
] as const;

/** Modules loaded at boot, in this order after their dependencies (resolved from each .ko's modinfo). */
export const MODULES = [
  'virtio_pci',
  'virtio_net',
  'crc32c_generic',
  'libcrc32c',
  'ext4',
  'sd_mod',
  'iscsi_tcp',
] as const;

/**
 * Modules put into the image but not loaded at boot (listed in /etc/modules.extra, dependencies
 * first): a scenario that needs them insmods them, so the other scenarios boot as before.
 */
export const EXTRA_MODULES = ['dm_mod', 'dm_multipath', 'dm_round_robin', 'dm_service_time', 'scsi_dh_alua'] as const;

/** Dynamically linked programs, copied with the libraries ldd finds for them in the staging root. */
export const PROGRAMS = [
  'sbin/iscsid',
  'sbin/iscsiadm',
  'sbin/mke2fs',
  'sbin/e2fsck',
  'usr/bin/sg_xcopy',
  'usr/bin/sg_copy_results',
  'usr/bin/sg_vpd',
  'sbin/multipath',
  'sbin/multipathd',
  'sbin/dmsetup',
  // multipath-tools' plugins (dlopened from /lib/multipath): the tur checker, the alua and const prioritizers.
  'lib/multipath/libchecktur.so',
  'lib/multipath/libcheckdirectio.so',
  'lib/multipath/libprioalua.so',
  'lib/multipath/libprioconst.so',
] as const;

/** Plain files copied from the staging root as they are. */
export const FILES = [
  'etc/mke2fs.conf',
  // glibc dlopens it for pthread_cancel (multipathd cancels its threads).
  'lib/x86_64-linux-gnu/libgcc_s.so.1',
] as const;
