set -e
/bin/mkdir -p $out/bin $out/sw
for p in $packages; do /bin/ln -s $p $out/sw/; done
/bin/cp $switch $out/bin/switch-to-configuration
/bin/chmod +x $out/bin/switch-to-configuration
echo "$name" > $out/nixos-version
/bin/ln -s $kernel/bzImage $out/kernel
/bin/ln -s $kernel/initrd $out/initrd
/bin/ln -s $kernel/lib $out/kernel-modules
echo "$inhibitors" > $out/switch-inhibitors
echo "$host" > $out/host
[ -z "$lockout" ] || echo "this configuration stops the host's sshd" > $out/nixtest-lockout
echo "assembled $name"
