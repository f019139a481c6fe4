/*
 * tests/ptab.c - the mediator's exact counts by prefix (struct ptab:
 * open addressing, linear probing, deletion by backward shift) against
 * a plain array, on random adds and removals of few keys whose low bits
 * (the home cell) are chosen to collide and wrap around the table.
 *
 *	cc -O2 -D_GNU_SOURCE -I. -o ptab tests/ptab.c util.c wire.c crypto.c
 *
 * It includes mediator.c for its static functions. Prints "ok N" with
 * the number of operations checked, or the first difference (exit 1).
 */
#include "../mediator.c"

#define NK	600

int
main(void)
{
	static uint64_t key[NK];
	static uint32_t want[NK];
	struct ptab pt = { NULL, 0, 0 };
	uint64_t x = 88172645463325252ULL, ops = 0;
	uint32_t i, j, live;
	int round;

	for (i = 0; i < NK; i++)	/* homes crowd near the table's end */
		key[i] = ((uint64_t)(i + 1) << 32) | (1020 + i % 9);
	for (round = 0; round < 2000000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (uint32_t)(x % NK);
		if ((x >> 32) % 3 != 0 || want[i] == 0) {
			if (pt_reserve(&pt, 1) == -1)
				return 2;
			pt_add(&pt, key[i], 1);
			want[i]++;
		} else {
			pt_add(&pt, key[i], -1);
			want[i]--;
		}
		ops++;
		if (round % 997 != 0)
			continue;
		for (live = 0, j = 0; j < NK; j++) {
			if (pt_get(&pt, key[j]) != want[j]) {
				printf("key %u: %u, not %u, after %llu\n", j,
				    pt_get(&pt, key[j]), want[j],
				    (unsigned long long)ops);
				return 1;
			}
			live += want[j] != 0;
		}
		if (live != pt.used) {
			printf("%u keys held, not %u\n", pt.used, live);
			return 1;
		}
	}
	printf("ok %llu cap %u used %u\n", (unsigned long long)ops, pt.cap,
	    pt.used);
	free(pt.t);
	return 0;
}
