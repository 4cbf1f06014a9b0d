// fma_peak measures the FMA throughput of this machine: THREADS threads each run
// independent chains of fused multiply-adds on the widest vectors the CPU has (AVX-512,
// else AVX2), in float32 and float64, and it prints one JSON object:
//
//	{"isa": "avx512", "f32": {"1": GFLOP/s, "2": ...}, "f32_cpu": {...}, "f64": {...}, "f64_cpu": {...}}
//
// with the best of REPS timed runs for each thread count from 1 to THREADS (the best, as
// the run least disturbed by other processes on a shared machine). f32 and f64 divide the
// work by the wall time; f32_cpu and f64_cpu add up each thread's work over its own
// processor time (CLOCK_THREAD_CPUTIME_ID), which time slices given to other processes
// do not inflate. An FMA counts as 2 floating-point operations, as in the GEMM benchmarks. scripts/bench builds
// and runs it to express its GFLOP/s as a fraction of what the cores can do.
//
//	gcc -O2 -pthread -o fma_peak fma_peak.c && ./fma_peak [THREADS [REPS]]
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 16 // independent accumulators: enough to cover FMA latency on 2 ports
#define ITERS 50000000L

// UNROLL advances every chain by one FMA; written out so that the accumulators stay in
// registers.
#define UNROLL(acc, fma, m, a)                                                          \
	do {                                                                            \
		acc[0] = fma(acc[0], m, a), acc[1] = fma(acc[1], m, a);                 \
		acc[2] = fma(acc[2], m, a), acc[3] = fma(acc[3], m, a);                 \
		acc[4] = fma(acc[4], m, a), acc[5] = fma(acc[5], m, a);                 \
		acc[6] = fma(acc[6], m, a), acc[7] = fma(acc[7], m, a);                 \
		acc[8] = fma(acc[8], m, a), acc[9] = fma(acc[9], m, a);                 \
		acc[10] = fma(acc[10], m, a), acc[11] = fma(acc[11], m, a);             \
		acc[12] = fma(acc[12], m, a), acc[13] = fma(acc[13], m, a);             \
		acc[14] = fma(acc[14], m, a), acc[15] = fma(acc[15], m, a);             \
	} while (0)

static volatile float sink32;
static volatile double sink64;

__attribute__((target("avx512f"))) static double run512(int f64) {
	double flops;
	if (f64) {
		__m512d acc[CHAINS], m = _mm512_set1_pd(0.999999), a = _mm512_set1_pd(1e-6);
		for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_pd(j);
		for (long i = 0; i < ITERS; i++) {
			UNROLL(acc, _mm512_fmadd_pd, m, a);
		}
		double s = 0;
		for (int j = 0; j < CHAINS; j++) s += _mm512_reduce_add_pd(acc[j]);
		sink64 = s;
		flops = 2.0 * 8 * CHAINS * ITERS;
	} else {
		__m512 acc[CHAINS], m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(1e-4f);
		for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_ps(j);
		for (long i = 0; i < ITERS; i++) {
			UNROLL(acc, _mm512_fmadd_ps, m, a);
		}
		float s = 0;
		for (int j = 0; j < CHAINS; j++) s += _mm512_reduce_add_ps(acc[j]);
		sink32 = s;
		flops = 2.0 * 16 * CHAINS * ITERS;
	}
	return flops;
}

__attribute__((target("avx2,fma"))) static double run256(int f64) {
	double flops;
	if (f64) {
		__m256d acc[CHAINS], m = _mm256_set1_pd(0.999999), a = _mm256_set1_pd(1e-6);
		for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_pd(j);
		for (long i = 0; i < ITERS; i++) {
			UNROLL(acc, _mm256_fmadd_pd, m, a);
		}
		double s[4] = {0}, t[4];
		for (int j = 0; j < CHAINS; j++) {
			_mm256_storeu_pd(t, acc[j]);
			for (int l = 0; l < 4; l++) s[l] += t[l];
		}
		sink64 = s[0] + s[1] + s[2] + s[3];
		flops = 2.0 * 4 * CHAINS * ITERS;
	} else {
		__m256 acc[CHAINS], m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(1e-4f);
		for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_ps(j);
		for (long i = 0; i < ITERS; i++) {
			UNROLL(acc, _mm256_fmadd_ps, m, a);
		}
		float s[8] = {0}, t[8];
		for (int j = 0; j < CHAINS; j++) {
			_mm256_storeu_ps(t, acc[j]);
			for (int l = 0; l < 8; l++) s[l] += t[l];
		}
		sink32 = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
		flops = 2.0 * 8 * CHAINS * ITERS;
	}
	return flops;
}

static int avx512;

struct job {
	int f64;
	double flops, cpu; // cpu: the thread's own processor time, seconds
};

static double thread_cpu(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *worker(void *arg) {
	struct job *j = arg;
	double t0 = thread_cpu();
	j->flops = avx512 ? run512(j->f64) : run256(j->f64);
	j->cpu = thread_cpu() - t0;
	return NULL;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// gflops runs threads workers at once and returns their total GFLOP/s over the wall
// time, and in *cpu the sum of each thread's GFLOP/s over its own processor time.
static double gflops(int threads, int f64, double *cpu) {
	pthread_t tid[64];
	struct job jobs[64];
	double t0 = now();
	for (int i = 0; i < threads; i++) {
		jobs[i].f64 = f64;
		pthread_create(&tid[i], NULL, worker, &jobs[i]);
	}
	double flops = 0;
	*cpu = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		flops += jobs[i].flops;
		*cpu += jobs[i].flops / jobs[i].cpu / 1e9;
	}
	return flops / (now() - t0) / 1e9;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (threads < 1 || threads > 64 || reps < 1 || reps > 100) {
		fprintf(stderr, "usage: fma_peak [THREADS (1-64) [REPS (1-100)]]\n");
		return 2;
	}
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
		fprintf(stderr, "fma_peak: this CPU has no AVX2 and FMA\n");
		return 1;
	}
	avx512 = __builtin_cpu_supports("avx512f");
	printf("{\"isa\": \"%s\"", avx512 ? "avx512" : "avx2");
	for (int f64 = 0; f64 < 2; f64++) {
		double wall[64][100], cpu[64][100];
		for (int t = 1; t <= threads; t++) {
			for (int r = 0; r < reps; r++) wall[t - 1][r] = gflops(t, f64, &cpu[t - 1][r]);
			qsort(wall[t - 1], reps, sizeof(double), cmp);
			qsort(cpu[t - 1], reps, sizeof(double), cmp);
		}
		for (int c = 0; c < 2; c++) {
			printf(", \"%s%s\": {", f64 ? "f64" : "f32", c ? "_cpu" : "");
			for (int t = 1; t <= threads; t++)
				printf("%s\"%d\": %.1f", t > 1 ? ", " : "", t, (c ? cpu : wall)[t - 1][reps - 1]);
			printf("}");
		}
	}
	printf("}\n");
	return 0;
}
