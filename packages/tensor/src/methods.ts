/**
 * Method-style access to the ops (`x.add(y).relu()`), for readable model code. Each method
 * calls the op function of the same name; the functions stay the one definition.
 */
import * as ops from './ops/index.ts';
import { Tensor } from './tensor.ts';

type Operand = Tensor | number;

declare module './tensor.ts' {
  interface Tensor {
    add(b: Operand): Tensor;
    sub(b: Operand): Tensor;
    mul(b: Operand): Tensor;
    div(b: Operand): Tensor;
    pow(b: Operand): Tensor;
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    square(): Tensor;
    sigmoid(): Tensor;
    silu(): Tensor;
    relu(): Tensor;
    tanh(): Tensor;
    sum(axis?: ops.Axes, keepDims?: boolean): Tensor;
    mean(axis?: ops.Axes, keepDims?: boolean): Tensor;
    max(axis?: ops.Axes, keepDims?: boolean): Tensor;
    min(axis?: ops.Axes, keepDims?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
    permute(perm: readonly number[]): Tensor;
    transpose(a?: number, b?: number): Tensor;
    matmul(b: Tensor, options?: ops.MatmulOptions): Tensor;
    backward(gradOutput?: Tensor): void;
  }
}

const P = Tensor.prototype;
P.add = function (b) {
  return ops.add(this, b);
};
P.sub = function (b) {
  return ops.sub(this, b);
};
P.mul = function (b) {
  return ops.mul(this, b);
};
P.div = function (b) {
  return ops.div(this, b);
};
P.pow = function (b) {
  return ops.pow(this, b);
};
P.neg = function () {
  return ops.neg(this);
};
P.abs = function () {
  return ops.abs(this);
};
P.exp = function () {
  return ops.exp(this);
};
P.log = function () {
  return ops.log(this);
};
P.sqrt = function () {
  return ops.sqrt(this);
};
P.rsqrt = function () {
  return ops.rsqrt(this);
};
P.square = function () {
  return ops.square(this);
};
P.sigmoid = function () {
  return ops.sigmoid(this);
};
P.silu = function () {
  return ops.silu(this);
};
P.relu = function () {
  return ops.relu(this);
};
P.tanh = function () {
  return ops.tanh(this);
};
P.sum = function (axis, keepDims) {
  return ops.sum(this, axis, keepDims);
};
P.mean = function (axis, keepDims) {
  return ops.mean(this, axis, keepDims);
};
P.max = function (axis, keepDims) {
  return ops.max(this, axis, keepDims);
};
P.min = function (axis, keepDims) {
  return ops.min(this, axis, keepDims);
};
P.reshape = function (shape) {
  return ops.reshape(this, shape);
};
P.permute = function (perm) {
  return ops.permute(this, perm);
};
P.transpose = function (a, b) {
  return ops.transpose(this, a, b);
};
P.matmul = function (b, options) {
  return ops.matmul(this, b, options);
};
P.backward = function (gradOutput) {
  ops.backward(this, gradOutput);
};
