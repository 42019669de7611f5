/** The part of autocannon's API the benches use (the package ships no types). */
declare module 'autocannon' {
  interface Options {
    url: string;
    method?: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    headers?: Record<string, string>;
    body?: string;
    /** Request templates, each with its own `setupRequest(request, context)`; their shapes vary by bench. */
    requests?: object[];
  }
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
  }
  interface Result {
    non2xx: number;
    errors: number;
    requests: Histogram;
    latency: Histogram;
  }
  export default function autocannon(options: Options): Promise<Result>;
}
