// The few autocannon options and result fields the bench uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  interface Options {
    url: string;
    connections: number;
    duration: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    overallRate?: number;
    timeout?: number;
    requests?: Array<{
      setupRequest?: (req: { headers?: Record<string, string>; body?: string }) => {
        headers?: Record<string, string>;
        body?: string;
      };
    }>;
  }
  interface Result {
    requests: { total: number };
    latency: Histogram;
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
