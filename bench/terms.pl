#!/usr/bin/env perl
# bench/terms.pl: the fresh search terms of the benchmarks (bench/run.sh,
# bench/wall.sh): every distinct four-letter run of letters in seed-bench's
# vocabulary, in a fixed mixed order (sorted by the reversed term), one a line.
# usage: perl bench/terms.pl src/ops/synthetic.rs > terms.txt
use strict;
use warnings;
local $/;
my $src = <>;
my @w;
for my $name (qw(PREFIXES CITIES TRADES FIRST LAST)) {
  $src =~ /const $name:[^=]*=\s*&?\[(.*?)\];/s or die "no $name in synthetic.rs\n";
  push @w, map { split / / } map { lc } ($1 =~ /"([^"]*)"/g);
}
my %g;
for my $w (@w) { for my $i (0 .. length($w) - 4) { my $g = substr($w, $i, 4); $g{$g} = 1 if $g =~ /^[a-z]{4}$/ } }
print "$_\n" for sort { reverse($a) cmp reverse($b) } keys %g;
