set datafile separator ','
set datafile columnheaders
set terminal png size 900,540 font ',11' noenhanced
set grid
set key outside right
set output 'ranker_validation.png'
set title 'ranker: validation'
set xlabel 'step'
set ylabel 'metric'
plot for [c=3:5] 'ranker_val.csv' using 1:c with linespoints title columnheader(c)
