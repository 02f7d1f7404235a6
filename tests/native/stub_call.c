/* Calls a runtime function that has no emulated behaviour (a generated stub). */
#include <cuda_runtime_api.h>
#include <stdio.h>

int main(void) {
    cudaMemPool_t pool;
    struct cudaMemPoolProps props = {0};
    cudaError_t e = cudaMemPoolCreate(&pool, &props);
    printf("CHECK stub_result %d\n", (int)e);
    return 0;
}
