// Shim of k6/metrics for tests (see runtime.mjs): every metric keeps its samples.
import { rt } from "./runtime.mjs";

class Metric {
  constructor(type, name, isTime = false) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) throw new Error(`invalid k6 metric name ${name}`);
    const old = rt.metrics.get(name);
    if (old && old.type !== type) throw new Error(`metric ${name} redefined as ${type} (was ${old.type})`);
    this.type = type;
    this.name = name;
    this.isTime = Boolean(isTime);
    this.values = [];
    rt.metrics.set(name, this);
  }
  add(value) {
    if (this.type === "rate") this.values.push(value ? 1 : 0);
    else if (typeof value !== "number" && typeof value !== "boolean") throw new Error(`${this.name}.add(${value}): not a number`);
    else this.values.push(Number(value));
  }
}

export class Counter extends Metric {
  constructor(name, isTime) {
    super("counter", name, isTime);
  }
}
export class Gauge extends Metric {
  constructor(name, isTime) {
    super("gauge", name, isTime);
  }
}
export class Rate extends Metric {
  constructor(name, isTime) {
    super("rate", name, isTime);
  }
}
export class Trend extends Metric {
  constructor(name, isTime) {
    super("trend", name, isTime);
  }
}

// k6's own `checks` metric, fed by check().
new Rate("checks");

export default { Counter, Gauge, Rate, Trend };
